"""Health console pages: roles, the trust step, settings forms, secrets never rendered."""

import subprocess

import pytest
from django.urls import reverse
from django.utils import timezone

from access.models import SSHCredential
from core.models import Job
from health.models import CheckResult, CheckSchedule, CheckStatus, HostHealth


@pytest.fixture(scope="module")
def keypair(tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.read_text(), (path.parent / "id_ed25519.pub").read_text().split()


def client_for(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def failed_host(host):
    now = timezone.now()
    HostHealth.objects.create(host=host, state="failed", since=now, consecutive_failures=3, last_check_at=now)
    CheckStatus.objects.create(host=host, check_type="ssh", ok=False, alive=False, checked_at=now, since=now,
                               message="198.18.1.11:22: Connection refused")
    CheckResult.objects.create(host=host, check_type="metrics", ok=True, checked_at=now,
                               value={"load1": 0.3, "load5": 0.2, "load15": 0.1, "mem_used_pct": 33, "disks": {"/": 9}})
    return host


def test_failing_now_shows_the_failed_host_and_why(client, viewer, failed_host):
    page = client_for(client, viewer).get(reverse("health:dashboard"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-hostname="luna" data-health="failed"' in html
    assert "198.18.1.11:22: Connection refused" in html
    assert 'id="check-all"' not in html  # viewers do not start sweeps
    assert client.get(reverse("health:failing_now")).status_code == 200


def test_the_host_page_has_a_panel_with_charts(client, viewer, failed_host):
    page = client_for(client, viewer).get(reverse("health:host", args=[failed_host.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-metric="load"' in html and 'id="health-series-' in html
    assert "vendor/chart.js/chart.umd.js" in html
    panel = client.get(reverse("health:host_panel", args=[failed_host.pk]), {"range": "7d"})
    assert panel.status_code == 200 and b'data-range="7d"' in panel.content
    assert client.get(reverse("health:host_panel", args=[failed_host.pk]), {"range": "bogus"}).status_code == 200


def test_check_now_is_for_operators(client, viewer, operator, host, django_capture_on_commit_callbacks):
    assert client_for(client, viewer).post(reverse("health:host_check", args=[host.pk])).status_code == 403
    with django_capture_on_commit_callbacks(execute=False) as sent:
        response = client_for(client, operator).post(reverse("health:host_check", args=[host.pk]))
    job = Job.objects.get(kind="health.sweep")
    assert response.status_code == 302 and response.url == reverse("job_detail", args=[job.pk])
    assert job.params["host_ids"] == [host.pk] and len(sent) == 1


def test_settings_are_read_by_viewers_and_changed_by_admins(client, viewer, admin_user, app_role):
    page = client_for(client, viewer).get(reverse("health:settings"))
    assert page.status_code == 200 and b'id="add-schedule"' not in page.content
    assert client.get(reverse("health:checkschedule_add")).status_code == 403

    client_for(client, admin_user)
    bad = client.post(reverse("health:checkschedule_add"), {"check_type": "ssh", "interval_seconds": "2"})
    assert bad.status_code == 400 and b"is-invalid" in bad.content
    duplicate = client.post(reverse("health:checkschedule_add"), {"check_type": "ssh", "interval_seconds": "60"})
    assert b"There is already a SSH login schedule for every host" in duplicate.content
    done = client.post(reverse("health:checkschedule_add"),
                       {"check_type": "ssh", "role": app_role.pk, "interval_seconds": "20", "enabled": "on"})
    assert done.status_code == 302
    assert CheckSchedule.objects.get(role=app_role).interval_seconds == 20


def test_the_credential_form_never_shows_the_stored_key(client, admin_user, keypair):
    secret = keypair[0]
    client_for(client, admin_user)
    response = client.post(reverse("health:sshcredential_add"), {
        "name": "fleet", "username": "root", "port": "22", "new_private_key": secret, "is_default": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    credential = SSHCredential.objects.get()
    edit = client.get(reverse("health:sshcredential_edit", args=[credential.pk]))
    assert edit.status_code == 200 and b"PRIVATE KEY" not in edit.content
    # Saving the form without a new key keeps the stored one.
    client.post(reverse("health:sshcredential_edit", args=[credential.pk]),
                {"name": "fleet", "username": "ops", "port": "2222", "is_default": "on"})
    credential.refresh_from_db()
    assert credential.username == "ops" and credential.private_key == secret.strip()
    bad = client.post(reverse("health:sshcredential_add"), {"name": "x", "username": "root", "port": "22",
                                                         "new_private_key": "-----BEGIN nonsense"})
    assert bad.status_code == 400 and b"not a private key" in bad.content


def test_metrics_need_no_console_login_but_the_allow_list(client, db):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
