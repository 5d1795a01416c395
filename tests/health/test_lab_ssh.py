"""SSH checks against the lab hosts' real sshd: key login, metrics, host key trust."""

import pytest

from access.models import HostKey
from health.models import CheckResult, CheckStatus, HostHealth
from health.services import sweep
from inventory.models import JournalEntry

pytestmark = pytest.mark.lab

HOST_KEYS = "/api/health/host-keys/"


def state_of(host):
    return HostHealth.objects.get(host=host).state


def latest(host, check):
    return CheckResult.objects.filter(host=host, check_type=check).order_by("-checked_at", "-id").first()


def test_ssh_login_and_metrics_succeed_with_a_trusted_key(trusted_estate):
    rhine = trusted_estate["rhine"]
    sweep.sweep(host_ids=[rhine.pk], checks=["ssh", "metrics", "libvirt"])

    login = latest(rhine, "ssh")
    assert login.ok, login.message
    assert login.message.startswith("logged in as root@")
    metrics = latest(rhine, "metrics")
    assert metrics.ok, metrics.message
    assert {"load1", "load5", "load15", "mem_used_pct", "uptime_s"} <= set(metrics.value)
    assert 0 < metrics.value["mem_used_pct"] < 100
    assert metrics.value["disks"], "df -P reported no mount"
    assert all(0 <= percent <= 100 for percent in metrics.value["disks"].values())
    assert metrics.value["failed_units"] is None  # no systemd runs in the lab hosts
    libvirt = latest(rhine, "libvirt")
    assert libvirt.ok, libvirt.message
    assert libvirt.value["vms_defined"] >= libvirt.value["vms_running"] >= 0
    assert state_of(rhine) == "healthy"


def test_first_seen_key_is_pending_and_the_check_fails_until_trusted(lab, lab_estate, operator_api, admin_api,
                                                                     viewer_api):
    danube = lab_estate["danube"]
    sweep.sweep(host_ids=[danube.pk], checks=["ssh"])

    failed = latest(danube, "ssh")
    assert not failed.ok
    assert "not trusted yet" in failed.message
    pending = HostKey.objects.get(host=danube)
    assert pending.trusted is False and pending.fingerprint in failed.message
    assert JournalEntry.objects.filter(host=danube, text__contains=pending.fingerprint).exists()
    # The host answered: a pending key fails the check but is no sign of a dead host.
    assert state_of(danube) == "healthy"

    listed = viewer_api.get(HOST_KEYS, {"trusted": "false", "host": danube.pk}).json()["results"]
    assert [key["fingerprint"] for key in listed] == [pending.fingerprint]
    for refused in (viewer_api, operator_api):  # trusting is an admin's act
        assert refused.post(f"{HOST_KEYS}{pending.pk}/trust/", {"fingerprint": pending.fingerprint}).status_code == 403
    wrong = admin_api.post(f"{HOST_KEYS}{pending.pk}/trust/", {"fingerprint": "SHA256:not-this-one"})
    assert wrong.status_code == 400 and "fingerprint" in wrong.json()
    sweep.sweep(host_ids=[danube.pk], checks=["ssh"])
    assert not latest(danube, "ssh").ok

    trusted = admin_api.post(f"{HOST_KEYS}{pending.pk}/trust/", {"fingerprint": pending.fingerprint})
    assert trusted.status_code == 200, trusted.json()
    assert trusted.json()["trusted"] is True and trusted.json()["trusted_by"] == "ada-admin"
    assert trusted.json()["trusted_address"] == lab.host("danube").address
    sweep.sweep(host_ids=[danube.pk], checks=["ssh"])
    assert latest(danube, "ssh").ok
    # The key offered is the one the lab generated for the host.
    assert lab.host("danube").ssh_host_key.split()[1] == HostKey.objects.get(host=danube).key


def test_a_changed_host_key_fails_the_check_loudly(lab, trusted_estate, receiver, eager_celery,
                                                   django_capture_on_commit_callbacks):
    volga = trusted_estate["volga"]
    old = HostKey.objects.get(host=volga, trusted_at__isnull=False)
    assert lab.replace_ssh_host_key("volga").ssh_host_key.split()[1] != old.key

    with django_capture_on_commit_callbacks(execute=True):
        sweep.sweep(host_ids=[volga.pk], checks=["ssh"])

    result = latest(volga, "ssh")
    new = HostKey.objects.get(host=volga, trusted_at__isnull=True)
    assert not result.ok
    assert result.message == f"HOST KEY CHANGED: expected {old.fingerprint}, got {new.fingerprint}"
    assert new.replaces == old.fingerprint
    status = CheckStatus.objects.get(host=volga, check_type="ssh")
    assert status.message.startswith("HOST KEY CHANGED")
    journal = JournalEntry.objects.filter(host=volga, kind="incident", text__contains="HOST KEY CHANGED")
    assert journal.count() == 1
    assert receiver.events() == ["host_key_changed"]
    assert receiver.posts[0]["evidence"]["got"] == new.fingerprint
    # Seen again: still failing, no second journal entry nor alert.
    with django_capture_on_commit_callbacks(execute=True):
        sweep.sweep(host_ids=[volga.pk], checks=["ssh"])
    assert not latest(volga, "ssh").ok
    assert journal.count() == 1 and receiver.events() == ["host_key_changed"]


def test_the_lab_setup_command_makes_the_lab_checkable(lab, lab_site, monkeypatch):
    from django.core.management import call_command

    from health.management.commands import health_lab_setup
    from inventory.models import Host, Role

    role = Role.objects.create(name="Hypervisor", slug="hypervisor")
    thames = Host.objects.create(hostname="thames", site=lab_site, role=role, status="spare")
    monkeypatch.setattr(health_lab_setup, "configured_lab", lambda: lab)
    call_command("health_lab_setup", stdout=None)
    call_command("health_lab_setup", stdout=None)  # idempotent
    thames.refresh_from_db()
    assert thames.mgmt_address == lab.host("thames").address
    sweep.sweep(host_ids=[thames.pk], checks=["ssh"])
    assert latest(thames, "ssh").ok


def test_the_lab_setup_command_makes_a_physical_lab_host_checkable(lab, lab_site, monkeypatch):
    from django.core.management import call_command

    from health.management.commands import health_lab_setup
    from inventory.models import Host, Role

    database = Role.objects.create(name="Database server", slug="db")
    vesta = Host.objects.create(hostname="vesta", site=lab_site, role=database, status="active")
    monkeypatch.setattr(health_lab_setup, "configured_lab", lambda: lab)
    call_command("health_lab_setup", stdout=None)
    vesta.refresh_from_db()
    assert vesta.mgmt_address == lab.host("vesta").address
    assert HostKey.objects.get(host=vesta, trusted_at__isnull=False).key == lab.host("vesta").ssh_host_key.split()[1]
    sweep.sweep(host_ids=[vesta.pk], checks=["ssh", "metrics"])
    assert latest(vesta, "ssh").ok, latest(vesta, "ssh").message
    assert "/srv" in latest(vesta, "metrics").value["disks"]  # df on the host: its own disk
