"""Alerts: one Alert per event, one delivery per enabled target (email or webhook), sent
by a Celery task that retries with a doubling delay and records every attempt. Webhook
deliveries are signed (health.webhooks); their URL never appears in an attempt's error."""

import json
import smtplib
import time

import requests
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core.jobs import celery_task

from .. import conf, webhooks
from ..models import Alert, AlertDelivery, AlertTarget, DeliveryAttempt

DELIVER_TASK = "health.deliver_alert"
EVENT_FAILED = Alert.Event.FAILED
EVENT_RECOVERED = Alert.Event.RECOVERED
EVENT_FLAPPING = Alert.Event.FLAPPING
EVENT_HOST_KEY_CHANGED = Alert.Event.HOST_KEY_CHANGED


def raise_alert(host, event, summary, evidence):
    """Record the alert and send one delivery per enabled target once committed."""
    payload = {
        "event": str(event),
        "summary": summary,
        "host": {
            "id": host.pk, "hostname": host.hostname, "status": host.status,
            "site": host.site.slug, "role": host.role.slug if host.role_id else None,
            "url": reverse("inventory:host_detail", args=[host.pk]),
        },
        "at": timezone.now().isoformat(),
        "evidence": evidence,
    }
    alert = Alert.objects.create(host=host, event=event, summary=summary[:300], payload=payload)
    deliveries = [
        AlertDelivery.objects.create(alert=alert, target=target, target_name=target.name, kind=target.kind,
                                     address=target.address)
        for target in AlertTarget.objects.filter(enabled=True)
    ]
    if deliveries:
        deliver = celery_task(DELIVER_TASK)
        for delivery in deliveries:
            transaction.on_commit(lambda pk=delivery.pk: deliver.delay(pk))
    return alert


def backoff(attempts):
    """Seconds to wait after the `attempts`-th failed attempt: base, 2x base, 4x base…"""
    return conf.number("HEALTH_ALERT_RETRY_SECONDS") * 2 ** max(0, attempts - 1)


def attempt_delivery(delivery):
    """Try once; record the attempt; return True when delivered."""
    started = time.monotonic()
    status_code, error = None, ""
    try:
        if delivery.kind == AlertTarget.Kind.WEBHOOK:
            status_code, error = post_webhook(delivery)
        else:
            send_mail(email_subject(delivery.alert), email_body(delivery.alert), conf.setting("HEALTH_ALERT_FROM_EMAIL"),
                      [r.strip() for r in delivery.address.split(",") if r.strip()])
    except (requests.RequestException, smtplib.SMTPException, OSError) as exc:
        error = str(exc) or type(exc).__name__
    if delivery.kind == AlertTarget.Kind.WEBHOOK:
        error = webhooks.scrub(error, delivery.address)  # requests names the URL's path in its errors
    error = error[:500]
    ok = not error
    number = delivery.attempts + 1
    DeliveryAttempt.objects.create(delivery=delivery, number=number, ok=ok, status_code=status_code, error=error,
                                   duration_ms=int((time.monotonic() - started) * 1000))
    delivery.attempts = number
    if ok:
        delivery.state, delivery.delivered_at = AlertDelivery.State.DELIVERED, timezone.now()
    elif number >= conf.integer("HEALTH_ALERT_MAX_ATTEMPTS"):
        delivery.state = AlertDelivery.State.FAILED
    else:
        delivery.state = AlertDelivery.State.RETRYING
    delivery.save(update_fields=["attempts", "state", "delivered_at"])
    return ok


def post_webhook(delivery):
    """POST the alert's JSON, signed with the target's secret; (HTTP status, error)."""
    if delivery.target is None:
        return None, "The alert target was deleted: there is no secret to sign with, nothing was sent."
    body = json.dumps(delivery.alert.payload).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "opsconsole-health",
               **webhooks.signed_headers(delivery.target.signing_secret, int(time.time()), body)}
    response = requests.post(delivery.address, data=body, headers=headers, allow_redirects=False,
                             timeout=conf.number("HEALTH_WEBHOOK_TIMEOUT"))
    if not 200 <= response.status_code < 300:
        return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"
    return response.status_code, ""


def email_subject(alert):
    return f"[opsconsole] {alert.summary}"[:200]


def email_body(alert):
    evidence = alert.payload.get("evidence", {})
    lines = [alert.summary, "", f"Host: {alert.payload['host']['hostname']} ({alert.payload['host']['url']})",
             f"Event: {alert.get_event_display()} at {alert.payload['at']}", ""]
    for check in evidence.get("checks", []):
        lines.append(f"- {check['at']} {check['check']} {'ok' if check['ok'] else 'FAILED'}: {check['message']}")
    return "\n".join(lines)
