"""The detection state machine, fed rounds of outcomes directly (no network): thresholds,
window, recovery, flapping, maintenance, the lifecycle and what counts as a sign of life."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from health.models import Alert, AlertTarget, HealthEvent, HostHealth
from health.services import detection, sweep
from health.signals import host_failed
from inventory.models import Host, JournalEntry
from tests.health.conftest import outcome

T0 = timezone.now().replace(microsecond=0)


def at(seconds):
    return T0 + timedelta(seconds=seconds)


def rounds(host, pattern, start=0, step=10):
    """Feed rounds: "+" the host answered, "-" it did not; returns the states after each."""
    states = []
    for index, mark in enumerate(pattern):
        ok = mark == "+"
        states.append(sweep.record_host(host, [outcome("ssh", ok)], at(start + index * step)).state)
    return states


@pytest.fixture
def email_target(db):
    return AlertTarget.objects.create(name="oncall", kind="email", address="oncall@example.com")


def test_suspect_at_the_first_failure_failed_at_the_third(host, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert rounds(host, "+---") == ["healthy", "suspect", "suspect", "failed"]
    health = HostHealth.objects.get(host=host)
    assert health.consecutive_failures == 3 and health.alerted_state == "failed"
    assert Host.objects.get(pk=host.pk).status == "failed"


def test_failures_outside_the_window_do_not_count(host, settings):
    settings.HEALTH_FAILURE_WINDOW_SECONDS = 60
    # Three failed rounds, but 50 s apart: never three within a minute.
    assert rounds(host, "+---", step=50) == ["healthy", "suspect", "suspect", "suspect"]
    assert Host.objects.get(pk=host.pk).status == "active"


def test_recovery_needs_m_successes_in_a_row(host, email_target, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        states = rounds(host, "+---+-++")
    assert states == ["healthy", "suspect", "suspect", "failed", "failed", "failed", "failed", "healthy"]
    assert list(Alert.objects.order_by("id").values_list("event", flat=True)) == ["failed", "recovered"]
    recovered = JournalEntry.objects.get(host=host, text__contains="RECOVERED")
    assert "stays failed" in recovered.text


def test_a_suspect_host_that_answers_again_is_healthy_without_alert(host, email_target):
    assert rounds(host, "+-++") == ["healthy", "suspect", "suspect", "healthy"]
    assert not Alert.objects.exists()
    assert Host.objects.get(pk=host.pk).status == "active"


def test_a_failure_alerts_by_email_with_the_evidence(host, email_target, eager_celery,
                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        rounds(host, "---")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["oncall@example.com"]
    assert "luna FAILED" in message.subject
    assert "ssh FAILED: connection refused" in message.body
    delivery = Alert.objects.get().deliveries.get()
    assert delivery.state == "delivered" and delivery.attempts == 1


def test_signs_of_life_that_fail_their_check_keep_a_host_alive(host):
    changed_key = outcome("ssh", ok=False, alive=True, message="HOST KEY CHANGED: expected SHA256:a, got SHA256:b")
    for second in range(5):
        detection.evaluate(host, [changed_key], at(second))
    health = HostHealth.objects.get(host=host)
    assert health.state == "healthy" and health.consecutive_failures == 0


def test_only_liveness_checks_count(host):
    # A closed database port or a full disk is a failing check, not a dead host.
    for second in range(5):
        detection.evaluate(host, [outcome("tcp", ok=False, alive=None), outcome("ssh", ok=True)], at(second))
        detection.evaluate(host, [outcome("metrics", ok=False, alive=True)], at(second))
    assert HostHealth.objects.get(host=host).state == "healthy"


def test_a_round_with_one_live_answer_is_a_success(host):
    # sshd died but libvirt answers: the host is up.
    for second in range(5):
        detection.evaluate(host, [outcome("ssh", ok=False, alive=False), outcome("libvirt", ok=True)], at(second))
    assert HostHealth.objects.get(host=host).state == "healthy"


def test_a_flapping_host_is_marked_and_its_alerts_held_back(host, email_target, settings):
    settings.HEALTH_FLAP_THRESHOLD = 4
    settings.HEALTH_FAILURE_THRESHOLD = 1
    settings.HEALTH_RECOVERY_THRESHOLD = 1
    rounds(host, "+-+-+-+-")
    health = HostHealth.objects.get(host=host)
    assert health.flapping
    events = list(Alert.objects.order_by("id").values_list("event", flat=True))
    # Alerts until it is seen flapping (more than 4 changes: at the 5th), one flapping alert, then silence.
    assert events == ["failed", "recovered", "failed", "flapping"]
    assert HealthEvent.objects.filter(host=host).count() == 8
    assert JournalEntry.objects.filter(host=host, text__contains="FLAPPING").count() == 1


def test_flapping_ends_when_changes_age_out(host, settings):
    settings.HEALTH_FLAP_THRESHOLD = 2
    settings.HEALTH_FLAP_WINDOW_SECONDS = 100
    settings.HEALTH_RECOVERY_THRESHOLD = 1
    rounds(host, "+-+-")
    assert HostHealth.objects.get(host=host).flapping
    rounds(host, "++", start=500)
    assert not HostHealth.objects.get(host=host).flapping
    assert JournalEntry.objects.filter(host=host, text__contains="stopped flapping").exists()


def test_maintenance_is_watched_not_acted_on_and_acted_on_after(host, email_target,
                                                              django_capture_on_commit_callbacks):
    received = []
    host_failed.connect(lambda sender, host, evidence, **kw: received.append(host.hostname), weak=False,
                        dispatch_uid="test-maintenance")
    try:
        Host.objects.filter(pk=host.pk).update(status="maintenance")
        with django_capture_on_commit_callbacks(execute=True):
            assert rounds(host, "---")[-1] == "failed"
        assert not Alert.objects.exists() and received == []
        assert Host.objects.get(pk=host.pk).status == "maintenance"
        # Back in service while still dead: now it is acted on, once.
        Host.objects.filter(pk=host.pk).update(status="active")
        with django_capture_on_commit_callbacks(execute=True):
            rounds(host, "--", start=100)
        assert list(Alert.objects.values_list("event", flat=True)) == ["failed"]
        assert received == ["luna"]
        assert Host.objects.get(pk=host.pk).status == "failed"
    finally:
        host_failed.disconnect(dispatch_uid="test-maintenance")


@pytest.mark.parametrize("status", ["failed", "planned"])
def test_status_changes_only_where_the_lifecycle_allows(host, status):
    Host.objects.filter(pk=host.pk).update(status=status)
    rounds(host, "---")
    assert Host.objects.get(pk=host.pk).status == status


def test_a_spare_host_goes_failed(host):
    Host.objects.filter(pk=host.pk).update(status="spare")
    rounds(host, "---")
    assert Host.objects.get(pk=host.pk).status == "failed"


def test_journal_entries_carry_the_evidence(host):
    sweep.record_host(host, [outcome("ssh", ok=True)], at(0))
    sweep.record_host(host, [outcome("ssh", ok=False, message="198.18.1.11:22: Connection refused")], at(10))
    suspect = JournalEntry.objects.get(host=host, text__contains="SUSPECT")
    assert suspect.kind == "system"
    assert "ssh FAILED: 198.18.1.11:22: Connection refused" in suspect.text
    event = HealthEvent.objects.get(host=host, to_state="suspect")
    assert event.evidence["failed_rounds"] == 1
    assert [c["message"] for c in event.evidence["checks"]] == ["198.18.1.11:22: Connection refused"]
