"""POST /api/inventory/hosts/import/: dry run, 202 + job, 400 on bad input, roles."""

import json

import pytest

from core.models import Job
from inventory.models import Host, Tag
from tests.inventory.test_csv_import import make_csv

IMPORT_URL = "/api/inventory/hosts/import/"

GOOD = make_csv(
    ["hostname", "site", "role", "tags", "bmc_password"],
    ["io", "ams1", "app", "prod, new-tag", "Bmc-s3cret"],
    ["luna", "ams1", "app", "", ""],
)
BAD = make_csv(["hostname", "site", "memory_mib"], ["io", "ams1", "64"], ["europa", "ams1", "lots"])


@pytest.fixture
def estate(host):
    Tag.objects.create(name="Production", slug="prod")
    return host


def post_file(client, text, name="hosts.csv", **params):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = text if isinstance(text, bytes) else text.encode()
    query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
    return client.post(IMPORT_URL + query, {"file": SimpleUploadedFile(name, data, "text/csv")}, format="multipart")


def test_dry_run_returns_the_preview_and_writes_nothing(estate, operator_api):
    response = post_file(operator_api, GOOD, dry_run=1)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["valid"] is True
    assert body["summary"] == {"create": 1, "update": 0, "unchanged": 1, "error": 0}
    assert body["new_tags"] == ["new-tag"]
    io_row = body["rows"][0]
    assert (io_row["row"], io_row["hostname"], io_row["action"]) == (2, "io", "create")
    assert {"column": "tags", "before": "", "after": "new-tag, prod"} in io_row["changes"]
    assert "Bmc-s3cret" not in response.content.decode()
    assert not Host.objects.filter(hostname="io").exists()
    assert not Job.objects.exists()


def test_dry_run_reports_every_error_per_row_and_column(estate, operator_api):
    response = post_file(operator_api, BAD, dry_run="true")
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False
    assert body["errors"] == [
        {"row": 3, "column": "memory_mib", "message": "Enter a whole number.", "text": "row 3, memory_mib: Enter a whole number."}
    ]
    assert body["rows"][1]["errors"] == {"memory_mib": ["Enter a whole number."]}


def test_import_starts_a_job_and_answers_202(estate, operator_api, operator, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post_file(operator_api, GOOD)
    assert response.status_code == 202, response.json()
    body = response.json()
    job = Job.objects.get(pk=body["job_id"])
    assert body["job_url"].endswith(f"/api/jobs/{job.pk}/") and response["Location"] == body["job_url"]
    assert (body["state"], body["summary"]["create"]) == ("pending", 1)
    assert (job.kind, job.state, job.created_by, job.params["filename"]) == (
        "inventory.import_hosts", "pending", operator, "hosts.csv",
    )  # fmt: skip
    assert len(callbacks) == 1  # the task is sent once the job row is committed
    assert "Bmc-s3cret" not in json.dumps(job.params)  # job params are readable by every viewer
    assert not Host.objects.filter(hostname="io").exists()  # the worker writes, not the request
    assert operator_api.get(body["job_url"]).status_code == 200


@pytest.mark.parametrize("content_type, payload", [("text/csv", GOOD), ("application/json", json.dumps({"csv": GOOD}))])
def test_the_csv_may_come_as_a_body_or_a_text_field(estate, operator_api, content_type, payload):
    response = operator_api.post(IMPORT_URL + "?dry_run=1", data=payload, content_type=content_type)
    assert response.status_code == 200, response.content
    assert response.json()["summary"]["create"] == 1


def test_an_import_with_bad_rows_is_refused_with_the_errors(estate, operator_api):
    response = post_file(operator_api, BAD)
    assert response.status_code == 400
    assert response.json()["errors"][0]["text"] == "row 3, memory_mib: Enter a whole number."
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "send, message",
    [
        (lambda c: post_file(c, "hostname,colour\nio,red\n"), "Unknown column in the header: colour."),
        (lambda c: post_file(c, "hostname,notes\nio,Zürich\n".encode("latin-1")), "not UTF-8 text"),
        (lambda c: post_file(c, ""), "The file is empty"),
        (lambda c: c.post(IMPORT_URL, {}, format="multipart"), "Send the CSV"),
        (lambda c: c.post(IMPORT_URL, {"csv": "   "}, format="json"), "Send the CSV"),
        (lambda c: c.post(IMPORT_URL, ["hostname"], format="json"), "Send the CSV"),
        (lambda c: c.post(IMPORT_URL, data="site\nams1\n", content_type="text/csv"), "no hostname column"),
    ],
)
def test_an_unusable_file_is_a_400_with_a_clear_message(estate, operator_api, send, message):
    response = send(operator_api)
    assert response.status_code == 400
    assert message in response.json()["file"][0]
    assert not Job.objects.exists()


def test_a_file_over_the_limit_is_refused(estate, operator_api, monkeypatch):
    from inventory import csv_import

    monkeypatch.setattr(csv_import, "MAX_CSV_BYTES", 64)
    response = operator_api.post(IMPORT_URL, data=GOOD * 3, content_type="text/csv")
    assert response.status_code == 400
    assert "Split it into several files" in response.json()["file"][0]


def test_viewers_may_not_import(estate, viewer_api):
    assert post_file(viewer_api, GOOD, dry_run=1).status_code == 403
    assert post_file(viewer_api, GOOD).status_code == 403
    assert not Job.objects.exists()


def test_anonymous_clients_must_authenticate(estate, anon_api):
    assert post_file(anon_api, GOOD).status_code == 401
