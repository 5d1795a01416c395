"""A repaired host goes back into service in one action (the API's POST .../repaired/ and
the console's button, both calling inventory.services.repair.mark_repaired): back to the
status it had before it failed, journaled with who and the note; refused in a sentence
when it is not failed or its health checks still fail."""

import pytest
from django.urls import reverse
from django.utils import timezone

from core.actions import ActionDenied
from health.models import HostHealth
from hypervisors.models import Hypervisor
from inventory.models import Host, HostStatus, JournalEntry
from inventory.services import change_status
from inventory.services.repair import mark_repaired

HOSTS = "/api/inventory/hosts/"


@pytest.fixture
def failed_spare(site, rack):
    spare = Host.objects.create(hostname="spare-01", site=site, rack=rack, position=30, status=HostStatus.SPARE)
    change_status(spare, HostStatus.FAILED, reason="health checks: ping")
    return spare


def repaired(client, host, **body):
    return client.post(f"{HOSTS}{host.pk}/repaired/", body, format="json")


def test_an_operator_marks_a_failed_spare_repaired_and_it_is_a_spare_again(operator_api, operator, failed_spare):
    answer = repaired(operator_api, failed_spare, note="PSU replaced")
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "spare"
    entries = JournalEntry.objects.filter(host=failed_spare, author=operator)
    assert entries.filter(kind="status", text="Status Failed → Spare: repaired, back in service as spare: "
                                              "PSU replaced").exists()
    assert entries.filter(kind="repair", text="Repaired: PSU replaced").exists()


def test_a_failed_active_host_returns_active(operator_api, host):
    change_status(host, HostStatus.FAILED, reason="Marvin is dead")
    assert repaired(operator_api, host).json()["status"] == "active"


def test_a_viewer_may_not_and_the_service_says_so(viewer_api, viewer, failed_spare):
    assert repaired(viewer_api, failed_spare).status_code == 403
    with pytest.raises(ActionDenied, match="Marking a host repaired needs the operator role."):
        mark_repaired(failed_spare, user=viewer)
    assert Host.objects.get(pk=failed_spare.pk).status == HostStatus.FAILED


def test_a_host_that_is_not_failed_is_refused_in_a_sentence(operator_api, host):
    answer = repaired(operator_api, host)
    assert answer.status_code == 400
    assert answer.json() == {"status": ["luna is active, not failed: only a failed host is marked repaired."]}


def test_a_host_whose_checks_still_fail_is_refused(operator_api, failed_spare):
    HostHealth.objects.create(host=failed_spare, state="failed", since=timezone.now(), failing_checks=["ping", "ssh"])
    answer = repaired(operator_api, failed_spare)
    assert answer.status_code == 400
    assert answer.json()["status"] == ["spare-01's health checks still fail (ping, ssh): repair what they find, and "
                                       "mark it repaired once they pass."]
    HostHealth.objects.filter(host=failed_spare).update(state="healthy", failing_checks=[])
    assert repaired(operator_api, failed_spare).status_code == 200


def test_a_bad_note_is_a_field_error(operator_api, failed_spare):
    answer = repaired(operator_api, failed_spare, note="x" * 501)
    assert answer.status_code == 400 and "note" in answer.json()


def test_the_host_page_button_repairs_and_is_only_offered_to_operators(client, operator, viewer, failed_spare):
    page = reverse("inventory:host_detail", args=[failed_spare.pk])
    client.force_login(viewer)
    assert 'id="mark-repaired"' not in client.get(page).content.decode()
    assert client.post(reverse("inventory:host_repaired", args=[failed_spare.pk])).status_code == 403
    client.force_login(operator)
    assert 'id="mark-repaired"' in client.get(page).content.decode()
    answer = client.post(reverse("inventory:host_repaired", args=[failed_spare.pk]),
                         {"note": "cable reseated", "next": page}, follow=True)
    assert answer.redirect_chain[-1][0] == page
    assert "spare-01 is repaired and spare again." in answer.content.decode()
    assert Host.objects.get(pk=failed_spare.pk).status == HostStatus.SPARE
    assert 'id="mark-repaired"' not in client.get(page).content.decode()
    again = client.post(reverse("inventory:host_repaired", args=[failed_spare.pk]), follow=True)
    assert "spare-01 is spare, not failed" in again.content.decode()


def test_the_hypervisor_page_offers_it_for_a_failed_hypervisor(client, operator, failed_spare):
    hypervisor = Hypervisor.objects.create(host=failed_spare, uri="test+tcp://127.0.0.1:9/spare-01")
    client.force_login(operator)
    page = reverse("hypervisors:hypervisor_detail", args=[hypervisor.pk])
    assert 'id="mark-repaired"' in client.get(page).content.decode()
    answer = client.post(reverse("inventory:host_repaired", args=[failed_spare.pk]), {"next": page})
    assert answer.status_code == 302 and answer.url == page
    assert Host.objects.get(pk=failed_spare.pk).status == HostStatus.SPARE


def test_next_never_leaves_the_console(client, operator, failed_spare):
    client.force_login(operator)
    answer = client.post(reverse("inventory:host_repaired", args=[failed_spare.pk]),
                         {"next": "https://evil.example/"})
    assert answer.status_code == 302 and answer.url == failed_spare.get_absolute_url()
