"""Fencing and recovery in the API and the console: roles, the write-only fence password,
bad input as 400 with field errors, the buttons and their confirmation."""

import pytest
from django.urls import reverse
from django.utils import timezone

from health.models import FenceAttempt, FenceDevice, HostHealth, Recovery, SiteRecoveryPolicy
from hypervisors.models import Hypervisor, VirtualMachine
from inventory.models import Host, JournalEntry

API = "/api/health/"


@pytest.fixture
def rhine(site):
    """A failed hypervisor with one HA VM, and a spare to restart it on."""
    host = Host.objects.create(hostname="rhine", site=site, status="failed", cpu_cores=8, memory_mib=4096)
    hypervisor = Hypervisor.objects.create(host=host, uri="qemu+tcp://rhine.example/system", shared_storage=True)
    spare = Host.objects.create(hostname="thames", site=site, status="spare", cpu_cores=8, memory_mib=4096)
    Hypervisor.objects.create(host=spare, uri="qemu+tcp://thames.example/system", shared_storage=True)
    HostHealth.objects.create(host=host, state="failed", since=timezone.now())
    VirtualMachine.objects.create(uuid="00000000-0000-0000-0000-0000000000aa", name="io", hypervisor=hypervisor,
                                  state="running", vcpus=1, memory_mib=256, ha_enabled=True)
    return host


# --- API ------------------------------------------------------------------------------------


def test_fence_devices_are_admin_only_and_the_password_is_write_only(admin_api, operator_api, viewer_api, rhine):
    body = {"host": rhine.pk, "agent": "ipmi", "address": "10.0.0.5", "username": "admin", "password": "s3cret"}
    assert operator_api.post(f"{API}fence-devices/", body, format="json").status_code == 403
    created = admin_api.post(f"{API}fence-devices/", body, format="json")
    assert created.status_code == 201, created.json()
    assert "password" not in created.json() and created.json()["has_password"] is True
    assert FenceDevice.objects.get(host=rhine).password == "s3cret"
    listed = viewer_api.get(f"{API}fence-devices/").json()["results"]
    assert listed[0]["hostname"] == "rhine" and "s3cret" not in str(listed)
    patched = admin_api.patch(f"{API}fence-devices/{listed[0]['id']}/", {"timeout_seconds": 30}, format="json")
    assert patched.status_code == 200 and FenceDevice.objects.get(host=rhine).password == "s3cret"


@pytest.mark.parametrize("body, field", [
    ({"agent": "ipmi"}, "address"),
    ({"agent": "telepathy"}, "agent"),
    ({"agent": "lab", "timeout_seconds": 0}, "timeout_seconds"),
    ({"agent": "lab", "host": 999999}, "host"),
])
def test_bad_fence_devices_are_400_with_field_errors(admin_api, rhine, body, field):
    response = admin_api.post(f"{API}fence-devices/", {"host": rhine.pk, **body}, format="json")
    assert response.status_code == 400 and field in response.json()


def test_operators_start_a_recovery_viewers_cannot_and_a_live_host_is_refused(
        operator_api, viewer_api, operator, rhine, site, django_capture_on_commit_callbacks):
    assert viewer_api.post(f"{API}recoveries/", {"host": rhine.pk}, format="json").status_code == 403
    assert operator_api.post(f"{API}recoveries/", {"host": "x"}, format="json").status_code == 400
    healthy = Host.objects.create(hostname="danube", site=site, status="active")
    Hypervisor.objects.create(host=healthy, uri="qemu+tcp://danube.example/system")
    refused = operator_api.post(f"{API}recoveries/", {"host": healthy.pk}, format="json")
    assert refused.status_code == 409 and "not failed" in refused.json()["detail"]
    with django_capture_on_commit_callbacks(execute=False):
        started = operator_api.post(f"{API}recoveries/", {"host": rhine.pk, "confirmed_off": True, "note": "PDU"},
                                    format="json")
    assert started.status_code == 202, started.json()
    assert started.json()["state"] == "running" and started.json()["job"]
    attempts = viewer_api.get(f"{API}fence-attempts/", {"host": rhine.pk}).json()["results"]
    assert [(a["agent"], a["outcome"], a["power_state"], a["requested_by"]) for a in attempts] == [
        ("manual", "fenced", "off", operator.username)]
    again = operator_api.post(f"{API}recoveries/", {"host": rhine.pk}, format="json")
    assert again.status_code == 409


def test_proposals_are_dismissed_by_operators(operator_api, rhine):
    proposal = Recovery.objects.create(host=rhine, state="proposed")
    assert operator_api.post(f"{API}recoveries/{proposal.pk}/dismiss/").json()["state"] == "dismissed"
    assert operator_api.post(f"{API}recoveries/{proposal.pk}/dismiss/").status_code == 409


def test_recovery_policies_per_site_are_admin_only(admin_api, operator_api, site):
    body = {"site": site.slug, "auto_recover": True}
    assert operator_api.post(f"{API}recovery-policies/", body, format="json").status_code == 403
    assert admin_api.post(f"{API}recovery-policies/", body, format="json").status_code == 201
    assert SiteRecoveryPolicy.objects.get(site=site).auto_recover
    assert admin_api.post(f"{API}recovery-policies/", {"site": "nowhere"}, format="json").status_code == 400


def test_recovery_lists_take_a_fixed_number_of_queries(viewer_api, rhine, django_assert_max_num_queries):
    for _ in range(3):
        FenceAttempt.objects.create(host=rhine, agent="lab", outcome="failed", power_state="unknown")
    Recovery.objects.create(host=rhine, state="dismissed")
    with django_assert_max_num_queries(8):
        assert viewer_api.get(f"{API}fence-attempts/").json()["count"] == 3
    with django_assert_max_num_queries(8):
        assert viewer_api.get(f"{API}recoveries/").json()["count"] == 1


# --- console --------------------------------------------------------------------------------


def test_the_host_page_proposes_fence_and_restart_to_operators_only(client, operator, viewer, rhine):
    Recovery.objects.create(host=rhine, state="proposed", summary="restart 1 HA VMs (io → thames).")
    client.force_login(viewer)
    html = client.get(reverse("health:host", args=[rhine.pk])).content.decode()
    assert 'id="recovery-proposed"' in html and "io → thames" in html
    assert 'id="fence-and-restart"' not in html and 'id="edit-fence-device"' not in html
    client.force_login(operator)
    html = client.get(reverse("health:host", args=[rhine.pk])).content.decode()
    assert 'id="fence-and-restart"' in html and 'id="confirm-powered-off"' in html
    assert 'id="no-fence-device"' in html


def test_confirm_powered_off_needs_the_confirmation_then_starts_the_recovery(client, operator, rhine,
                                                                            django_capture_on_commit_callbacks):
    client.force_login(operator)
    url = reverse("health:recover", args=[rhine.pk])
    refused = client.post(url, {"mode": "confirmed_off", "note": "PDU"})
    assert refused.status_code == 400 and 'id="recovery-form-errors"' in refused.content.decode()
    assert not FenceAttempt.objects.exists()
    with django_capture_on_commit_callbacks(execute=False):
        started = client.post(url, {"mode": "confirmed_off", "confirm": "on", "note": "PDU switched off"})
    recovery = Recovery.objects.get(host=rhine)
    assert started.status_code == 302 and started["Location"] == reverse("health:recovery_detail", args=[recovery.pk])
    assert recovery.fence_attempt.requested_by == operator
    entry = JournalEntry.objects.get(host=rhine, text__startswith="Fence:")
    name = operator.get_full_name() or operator.username
    assert f"confirmed powered off by {name}: PDU switched off" in entry.text
    page = client.get(started["Location"]).content.decode()
    assert 'id="recovery-state"' in page and 'id="recovery-vms"' in page and "read back <strong>off</strong>" in page


def test_fence_device_form_is_admin_only_and_never_renders_the_password(client, operator, admin_user, rhine):
    url = reverse("health:fencedevice_edit", args=[rhine.pk])
    client.force_login(operator)
    assert client.get(url).status_code == 403
    client.force_login(admin_user)
    bad = client.post(url, {"agent": "ipmi", "address": "", "timeout_seconds": 20, "enabled": "on"})
    assert bad.status_code == 400 and "needs the BMC" in bad.content.decode()
    saved = client.post(url, {"agent": "ipmi", "address": "10.0.0.5", "username": "admin",
                              "new_password": "s3cret", "timeout_seconds": 20, "enabled": "on"})
    assert saved.status_code == 302
    assert FenceDevice.objects.get(host=rhine).password == "s3cret"
    assert "s3cret" not in client.get(url).content.decode()
    host_page = client.get(reverse("health:host", args=[rhine.pk])).content.decode()
    assert "set (never shown)" in host_page and "s3cret" not in host_page


def test_admins_turn_auto_recovery_on_per_site(client, admin_user, operator, site):
    url = reverse("health:recovery_policy", args=[site.pk])
    client.force_login(operator)
    assert client.post(url, {"auto_recover": "on"}).status_code == 403
    client.force_login(admin_user)
    client.post(url, {"auto_recover": "on"})
    assert SiteRecoveryPolicy.objects.get(site=site).auto_recover
    client.post(url, {})
    assert not SiteRecoveryPolicy.objects.get(site=site).auto_recover
    assert 'id="recovery-policies"' in client.get(reverse("health:settings")).content.decode()


def test_the_recoveries_list_has_an_empty_state(client, viewer):
    client.force_login(viewer)
    assert "No recovery yet" in client.get(reverse("health:recoveries")).content.decode()


def test_the_health_panel_says_when_a_recovery_waits_for_an_operator(client, viewer, rhine):
    client.force_login(viewer)
    panel = reverse("health:host_panel", args=[rhine.pk])
    assert 'id="health-recovery"' not in client.get(panel).content.decode()
    Recovery.objects.create(host=rhine, state="proposed")
    html = client.get(panel).content.decode()
    assert 'id="health-recovery"' in html and f'{reverse("health:host", args=[rhine.pk])}#host-recovery' in html
