"""A failed job tells people a sentence (its message, error and log, in the API and on the
job page); the traceback goes to the server log only."""

import logging

import pytest
from django.core.exceptions import ValidationError

from core.errors import sentence
from core.jobs import create_job, run_job
from core.models import Job


def failing_with(exc):
    def work(job, recorder):
        recorder.log("working")
        raise exc

    return work


@pytest.mark.parametrize("exc, said", [
    (ValidationError({"disk_path": "There is no disk image at /images/gone.raw"}),
     "Disk path: There is no disk image at /images/gone.raw."),
    (ValidationError({"non_field_errors": ["The plan already has a run", "Finish it first."]}),
     "The plan already has a run. Finish it first."),
    (ValidationError(["One.", "Two"]), "One. Two."),
    (RuntimeError("Cannot empty hv1: vm-a does not fit."), "Cannot empty hv1: vm-a does not fit."),
    (KeyError("snapshot_id"), "An internal error (KeyError) stopped this; the server log has the details. "
                              "Report it if it happens again."),
    (RuntimeError(), "It failed (RuntimeError) without saying why; the server log has the details."),
])
def test_sentence_of_an_exception(exc, said):
    assert sentence(exc) == said


def test_a_failed_job_stores_a_sentence_and_logs_the_traceback(db, caplog, viewer_api, client, viewer):
    job = create_job("test.fail", "Replicate luna")
    with caplog.at_level(logging.ERROR, logger="core.jobs"):
        run_job(job.pk, failing_with(ValidationError({"disk_path": "There is no disk image at /images/gone.raw"})))
    job.refresh_from_db()
    said = "Disk path: There is no disk image at /images/gone.raw."
    assert job.state == Job.State.FAILED
    assert (job.message, job.error) == (said, said)
    assert f"Failed: {said}" in job.log and "{" not in job.log
    logged = [record for record in caplog.records if record.name == "core.jobs"]
    assert logged and logged[0].exc_info and logged[0].exc_info[0] is ValidationError  # the trace, in the log

    body = viewer_api.get(f"/api/jobs/{job.pk}/").json()
    assert body["error"] == said and "Traceback" not in str(body) and "File \"" not in str(body)
    client.force_login(viewer)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert said in page and "Traceback" not in page
