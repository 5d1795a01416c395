"""Alert delivery: a real Celery worker posts the webhook, retrying with backoff until the
receiver takes it, and records every attempt."""

import pytest

from health.models import AlertDelivery, AlertTarget
from health.services import alerts
from tests.conftest import wait_for
from tests.health.conftest import Receiver


@pytest.fixture
def flaky_receiver(transactional_db, monkeypatch):
    monkeypatch.setenv("HEALTH_ALERT_RETRY_SECONDS", "0.5")  # for the worker process started after this
    receiver = Receiver(fail_first=2)
    AlertTarget.objects.create(name="flaky hook", kind="webhook", address=receiver.url)
    yield receiver
    receiver.close()


@pytest.mark.worker
def test_a_webhook_is_retried_until_delivered(flaky_receiver, host, celery_worker_process, settings):
    alerts.raise_alert(host, alerts.EVENT_FAILED, "luna FAILED", {"checks": []})  # autocommit: sent at once
    delivery = AlertDelivery.objects.get()

    def delivered():
        delivery.refresh_from_db()
        return delivery.state == AlertDelivery.State.DELIVERED

    assert wait_for(delivered, timeout=30), f"{delivery.state} after {delivery.attempts} attempts"
    attempts = list(delivery.attempt_log.order_by("number"))
    assert [(a.number, a.ok, a.status_code) for a in attempts] == [(1, False, 500), (2, False, 500), (3, True, 204)]
    assert attempts[0].error.startswith("HTTP 500")
    assert flaky_receiver.events() == ["failed"]
    assert flaky_receiver.posts[0]["host"]["hostname"] == "luna"


def test_attempts_run_out(db, host, settings):
    settings.HEALTH_ALERT_MAX_ATTEMPTS = 2
    AlertTarget.objects.create(name="nowhere", kind="webhook", address="http://127.0.0.1:9/closed")
    AlertTarget.objects.create(name="off", kind="webhook", address="http://127.0.0.1:9/off", enabled=False)
    alert = alerts.raise_alert(host, alerts.EVENT_FAILED, "luna FAILED", {"checks": []})
    delivery = alert.deliveries.get()  # the disabled target gets none
    assert alerts.attempt_delivery(delivery) is False
    assert delivery.state == AlertDelivery.State.RETRYING
    assert alerts.attempt_delivery(delivery) is False
    assert delivery.state == AlertDelivery.State.FAILED
    assert delivery.attempt_log.count() == 2 and "refused" in delivery.attempt_log.first().error.lower()


def test_backoff_doubles(settings):
    settings.HEALTH_ALERT_RETRY_SECONDS = 10
    assert [alerts.backoff(n) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
