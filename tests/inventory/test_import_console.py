"""The console import: upload -> preview -> commit, ending in a Job on a real worker."""

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.models import Job
from inventory import csv_import
from inventory.models import Host, Tag
from tests.conftest import wait_for
from tests.inventory.test_csv_import import make_csv

IMPORT_URL = "/inventory/import/"

GOOD = make_csv(
    ["hostname", "site", "role", "rack", "position", "memory_mib", "interfaces", "tags"],
    ["io", "ams1", "app", "R01", "20", "4096", "eth0=52:54:00:aa:bb:01/10.0.0.21", "prod, brand-new"],
    ["luna", "ams1", "app", "R01", "10", "65536", "", "prod"],
)
BAD = make_csv(["hostname", "site", "memory_mib"], ["io", "ams1", "64"], ["europa", "ams1", "lots"])


@pytest.fixture
def estate(host):
    Tag.objects.create(name="Production", slug="prod")
    return host


def upload(client, text, name="hosts.csv"):
    data = text if isinstance(text, bytes) else text.encode()
    return client.post(IMPORT_URL, {"csv_file": SimpleUploadedFile(name, data, content_type="text/csv")})


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


def test_the_upload_page_is_for_operators(client, viewer, operator, nobody):
    response = client.get(IMPORT_URL)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    for user, expected in ((nobody, 403), (viewer, 403), (operator, 200)):
        client.force_login(user)
        assert client.get(IMPORT_URL).status_code == expected
    page = client.get(IMPORT_URL).content.decode()
    assert 'type="file"' in page and 'id="column-help"' in page


def test_a_viewer_cannot_post_a_file_either(estate, client, viewer):
    client.force_login(viewer)
    assert upload(client, GOOD).status_code == 403


def test_the_preview_shows_actions_and_changed_fields(estate, operator_client):
    response = upload(operator_client, GOOD)
    assert response.status_code == 200
    page = response.content.decode()
    assert response.context["counts"] == {"create": 1, "update": 1, "unchanged": 0, "error": 0}
    assert '<tr id="row-2" data-action="create"' in page and '<tr id="row-3" data-action="update"' in page
    assert '<del class="text-body-secondary">1024</del> <i class="bi bi-arrow-right"></i> <ins class="text-decoration-none">65536</ins>' in page
    assert 'id="import-new-tags"' in page and "brand-new" in page
    assert 'name="commit"' in page and "Commit import" in page
    assert not Host.objects.filter(hostname="io").exists()


def test_a_preview_with_errors_has_no_commit_button(estate, operator_client):
    page = upload(operator_client, BAD).content.decode()
    assert "row 3, memory_mib: Enter a whole number." in page
    assert '<tr id="row-3" data-action="error" class="table-danger">' in page
    assert 'name="commit"' not in page
    assert "Upload and preview again" in page


@pytest.mark.parametrize(
    "data, message",
    [
        ("hostname,notes\nio,Zürich\n".encode("latin-1"), "The file is not UTF-8 text"),
        (b"hostname,colour\nio,red\n", "Unknown column in the header: colour."),
    ],
)
def test_an_unusable_file_is_a_form_error(estate, operator_client, data, message):
    response = upload(operator_client, data)
    assert response.status_code == 200
    (error,) = response.context["form"].errors["csv_file"]
    assert error.startswith(message)
    assert 'class="form-control is-invalid"' in response.content.decode()


def test_a_file_over_the_limit_is_refused(estate, operator_client, monkeypatch):
    monkeypatch.setattr(csv_import, "MAX_CSV_BYTES", 64)
    response = upload(operator_client, GOOD)
    assert "Split it into several files" in response.content.decode()
    assert "plan" not in response.context


def test_commit_needs_the_token_of_the_last_preview(estate, operator_client):
    upload(operator_client, GOOD)
    operator_client.post(IMPORT_URL, {"commit": "1", "token": "förged"})  # not even ASCII: no 500
    response = operator_client.post(IMPORT_URL, {"commit": "1", "token": "forged"}, follow=True)
    assert response.redirect_chain == [(IMPORT_URL, 302)]
    assert "no longer current" in response.content.decode()
    assert not Job.objects.exists()


def test_commit_creates_a_job_and_goes_to_its_page(estate, operator_client, operator, django_capture_on_commit_callbacks):
    token = upload(operator_client, GOOD).context["token"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = operator_client.post(IMPORT_URL, {"commit": "1", "token": token})
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("job_detail", args=[job.pk])
    assert (job.state, job.created_by, job.title) == ("pending", operator, "Import hosts from hosts.csv")
    assert len(callbacks) == 1
    # the same preview cannot be committed twice
    operator_client.post(IMPORT_URL, {"commit": "1", "token": token})
    assert Job.objects.count() == 1


@pytest.mark.worker
def test_upload_preview_commit_on_a_real_worker(celery_worker_process, estate, operator_client, operator):
    preview = upload(operator_client, GOOD)
    assert preview.context["plan"].is_valid

    response = operator_client.post(IMPORT_URL, {"commit": "1", "token": preview.context["token"]})
    job = Job.objects.get()
    assert response["Location"] == reverse("job_detail", args=[job.pk])

    finished = wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=90)
    job.refresh_from_db()
    assert finished, f"job still {job.state}: {job.log}"
    assert job.state == Job.State.SUCCEEDED, job.error or job.log
    assert job.created_at <= job.started_at <= job.finished_at  # pending -> running -> succeeded
    assert (job.progress, job.result["created"], job.result["updated"]) == (100, 1, 1)
    io = Host.objects.get(hostname="io")
    assert (io.position, io.memory_mib, io.interfaces.get().ip_address) == (20, 4096, "10.0.0.21")
    assert sorted(io.tags.values_list("slug", flat=True)) == ["brand-new", "prod"]
    assert Host.objects.get(hostname="luna").memory_mib == 65536
    io_log = LogEntry.objects.get_for_object(io)
    assert io_log.filter(action=LogEntry.Action.CREATE).exists()
    assert {entry.actor for entry in io_log} == {operator}

    page = operator_client.get(response["Location"]).content.decode()
    assert "Created 1, updated 1, unchanged 0 hosts" in page
