"""Failure detection against the lab: a host powered off goes suspect, then failed after N
rounds, with journal entries, its inventory status, an alert delivered to a webhook on
127.0.0.1 and the recovery hook; powered on again, it recovers and an alert says so."""

import time

import pytest

from health.models import Alert, HealthEvent, HostHealth
from health.services import sweep
from health.signals import host_failed, host_recovered
from inventory.models import Host, JournalEntry

pytestmark = pytest.mark.lab


def state_of(host):
    return HostHealth.objects.get(host=host).state


@pytest.fixture
def signals():
    received = []

    def failed(sender, host, evidence, **kwargs):
        received.append(("failed", host.hostname, evidence))

    def recovered(sender, host, evidence, **kwargs):
        received.append(("recovered", host.hostname, evidence))

    host_failed.connect(failed)
    host_recovered.connect(recovered)
    yield received
    host_failed.disconnect(failed)
    host_recovered.disconnect(recovered)


def test_a_powered_off_host_is_detected_failed_then_recovered(lab, trusted_estate, receiver, eager_celery, signals,
                                                              django_capture_on_commit_callbacks):
    rhine = trusted_estate["rhine"]

    def round_of_checks():
        with django_capture_on_commit_callbacks(execute=True):
            sweep.sweep(host_ids=[rhine.pk], checks=["ssh", "libvirt"])
        return state_of(rhine)

    assert round_of_checks() == "healthy"
    lab.power_off("rhine")
    try:
        assert round_of_checks() == "suspect"
        assert Host.objects.get(pk=rhine.pk).status == "active"
        assert receiver.posts == []
        assert round_of_checks() == "suspect"
        assert round_of_checks() == "failed"  # the third failed round (threshold 3)
    finally:
        lab.power_on("rhine")

    assert Host.objects.get(pk=rhine.pk).status == "failed"
    incident = JournalEntry.objects.get(host=rhine, kind="incident")
    assert "FAILED" in incident.text and "3 failed rounds" in incident.text
    assert "ssh FAILED" in incident.text and "libvirt FAILED" in incident.text
    assert JournalEntry.objects.filter(host=rhine, kind="system", text__contains="SUSPECT").count() == 1
    assert JournalEntry.objects.filter(host=rhine, kind="status", text__contains="Failed").exists()
    assert receiver.events() == ["failed"]
    failed_alert = receiver.posts[0]
    assert failed_alert["host"]["hostname"] == "rhine"
    assert failed_alert["evidence"]["failed_rounds"] == 3
    assert {c["check"] for c in failed_alert["evidence"]["checks"]} == {"ssh", "libvirt"}
    assert [(kind, name) for kind, name, _ in signals] == [("failed", "rhine")]
    assert signals[0][2]["threshold"] == 3

    deadline = time.monotonic() + 30
    while round_of_checks() != "healthy" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert state_of(rhine) == "healthy"
    assert receiver.events() == ["failed", "recovered"]
    assert [kind for kind, _, _ in signals] == ["failed", "recovered"]
    recovery = JournalEntry.objects.get(host=rhine, text__contains="RECOVERED")
    assert "failed → maintenance → active" in recovery.text
    assert Host.objects.get(pk=rhine.pk).status == "failed"  # putting it back is a human decision
    assert list(HealthEvent.objects.filter(host=rhine).order_by("at").values_list("to_state", flat=True)) == [
        "healthy", "suspect", "failed", "healthy"]
    delivery = Alert.objects.get(host=rhine, event="recovered").deliveries.get()
    assert delivery.state == "delivered" and delivery.attempt_log.get().status_code == 204


def test_a_host_in_maintenance_is_watched_but_not_alerted_on(lab, trusted_estate, receiver, eager_celery, signals,
                                                            django_capture_on_commit_callbacks):
    thames = trusted_estate["thames"]
    Host.objects.filter(pk=thames.pk).update(status="maintenance")
    lab.power_off("thames")
    try:
        for _ in range(3):
            with django_capture_on_commit_callbacks(execute=True):
                sweep.sweep(host_ids=[thames.pk], checks=["ssh", "libvirt"])
    finally:
        lab.power_on("thames")
    assert state_of(thames) == "failed"
    assert Host.objects.get(pk=thames.pk).status == "maintenance"
    assert receiver.posts == [] and signals == []
    assert not JournalEntry.objects.filter(host=thames, text__startswith="Health").exists()
