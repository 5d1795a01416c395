"""The import Job body, run in-process: progress, log, result, and a re-check that can fail."""

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType

from core.models import Job
from inventory import csv_import
from inventory.csv_import import ImportRejected, run_import
from inventory.models import Host
from inventory.tasks import import_hosts_job, start_host_import
from tests.inventory.test_csv_import import make_csv


class RecordingRecorder:
    def __init__(self):
        self.progress_calls, self.lines = [], []

    def progress(self, percent, message=None):
        self.progress_calls.append((percent, message))

    def log(self, line):
        self.lines.append(line)


def start(text, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # no broker: the test runs the body itself
        return start_host_import(text, user, "hosts.csv")


def test_the_job_imports_and_records_a_summary(host, operator, django_capture_on_commit_callbacks):
    text = make_csv(["hostname", "site", "owner"], ["io", "ams1", "team-io"], ["luna", "ams1", "team-luna"], ["sol", "ams1", ""])
    job = start(text, operator, django_capture_on_commit_callbacks)
    assert text not in str(job.params) and csv_import.unseal_csv(job.params["csv_sealed"]) == text

    import_hosts_job(job.pk)  # the task body, in this process

    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.progress == 100
    assert job.result == {
        "rows": 3, "created": 2, "updated": 1, "unchanged": 0, "tags_created": [],
        "created_hosts": ["io", "sol"], "updated_hosts": ["luna"],
    }  # fmt: skip
    assert "Checking 3 rows" in job.log and "Created 2, updated 1, unchanged 0 hosts" in job.log
    created = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Host), object_repr="io").get()
    assert created.actor == operator


def test_the_job_fails_and_writes_nothing_when_the_inventory_changed(site, rack, operator, django_capture_on_commit_callbacks):
    text = make_csv(["hostname", "site", "rack", "position"], ["io", "ams1", "R01", "5"], ["europa", "ams1", "R01", "6"])
    job = start(text, operator, django_capture_on_commit_callbacks)
    Host.objects.create(hostname="sneaky", site=site, rack=rack, position=5)  # after the preview

    import_hosts_job(job.pk)

    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.message == "1 of 2 rows have errors; nothing was written."
    assert "row 2, position: Units 5-5 overlap sneaky (units 5-5)." in job.log
    assert not Host.objects.filter(hostname__in=["io", "europa"]).exists()


def test_progress_is_reported_per_chunk_of_rows(site, monkeypatch):
    monkeypatch.setattr(csv_import, "CHECK_CHUNK_ROWS", 10)
    text = make_csv(["hostname", "site"], *[[f"node-{n}", "ams1"] for n in range(25)])
    recorder = RecordingRecorder()

    summary = run_import(text, None, recorder)

    assert summary["created"] == 25
    assert recorder.progress_calls == [
        (20, "Checked 10 of 25 rows"),
        (40, "Checked 20 of 25 rows"),
        (50, "Checked 25 of 25 rows"),
        (50, "Writing every row in one transaction"),
    ]


def test_a_rejected_job_logs_the_errors_it_found(site, monkeypatch):
    text = make_csv(["hostname", "site", "cpu_cores"], *[[f"node-{n}", "ams1", "many"] for n in range(5)])
    recorder = RecordingRecorder()
    with pytest.raises(ImportRejected):
        run_import(text, None, recorder, shown_errors=3)
    assert recorder.lines[1:] == [
        "row 2, cpu_cores: Enter a whole number.",
        "row 3, cpu_cores: Enter a whole number.",
        "row 4, cpu_cores: Enter a whole number.",
        "... and 2 more errors",
    ]
    assert not Host.objects.exists()
