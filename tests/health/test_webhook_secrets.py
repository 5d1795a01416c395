"""Webhook URLs carry tokens: write-only in the API, shown as scheme://host/… everywhere
(settings page, alerts, deliveries, change log, delivery errors), encrypted at rest. Each
delivery is signed with HMAC-SHA256 over timestamp + "." + body with a per-target secret,
checked here by a real HTTP receiver on 127.0.0.1 that knows only the secret and the
README's recipe."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test import Client
from django.urls import reverse

from health.models import AlertDelivery, AlertTarget
from health.services import alerts

TOKEN = "T0KEN-4f9a2c"
API = "/api/health/alert-targets/"


class VerifyingReceiver:
    """Accepts (204) only POSTs whose X-Opsconsole-Signature is HMAC-SHA256(secret,
    timestamp + "." + body) and whose timestamp is within five minutes; else 401."""

    def __init__(self, secret=""):
        self.secret, self.verified, self.refused = secret, [], []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                timestamp = self.headers.get("X-Opsconsole-Timestamp", "")
                expected = "sha256=" + hmac.new(receiver.secret.encode(), f"{timestamp}.".encode() + body,
                                                hashlib.sha256).hexdigest()
                fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 300
                if fresh and hmac.compare_digest(expected, self.headers.get("X-Opsconsole-Signature", "")):
                    receiver.verified.append((self.path, json.loads(body)))
                    self.send_response(204)
                else:
                    receiver.refused.append(self.path)
                    self.send_response(401)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{TOKEN}?key={TOKEN}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def verifying_receiver(db):
    receiver = VerifyingReceiver()
    yield receiver
    receiver.close()


def raw_column(table, column, pk):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_an_admin_creates_a_webhook_and_sees_its_generated_secret_once(admin_api, viewer_api, verifying_receiver):
    answer = admin_api.post(API, {"name": "pager", "kind": "webhook", "address": verifying_receiver.url})
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert "address" not in body and body["shown_address"] == f"http://127.0.0.1:{verifying_receiver.server.server_address[1]}/…"
    secret = body["new_signing_secret"]
    target = AlertTarget.objects.get(name="pager")
    assert len(secret) >= 32 and target.signing_secret == secret
    for client in (admin_api, viewer_api):
        again = client.get(f"{API}{target.pk}/").content.decode() + client.get(API).content.decode()
        assert TOKEN not in again and secret not in again
        assert client.get(f"{API}{target.pk}/").json()["new_signing_secret"] is None


def test_a_secret_given_is_stored_and_not_returned_and_a_patch_keeps_the_url(admin_api):
    answer = admin_api.post(API, {"name": "pager", "kind": "webhook", "address": f"https://hooks.example/{TOKEN}",
                                  "signing_secret": "a-shared-secret-of-ours"})
    assert answer.status_code == 201 and answer.json()["new_signing_secret"] is None
    target = AlertTarget.objects.get(name="pager")
    assert target.signing_secret == "a-shared-secret-of-ours"
    assert admin_api.patch(f"{API}{target.pk}/", {"enabled": False}).status_code == 200
    assert admin_api.patch(f"{API}{target.pk}/", {"signing_secret": "rotated-secret-0123456"}).status_code == 200
    target.refresh_from_db()
    assert (target.address, target.signing_secret, target.enabled) == (
        f"https://hooks.example/{TOKEN}", "rotated-secret-0123456", False)
    short = admin_api.patch(f"{API}{target.pk}/", {"signing_secret": "short"})
    assert short.status_code == 400 and "signing_secret" in short.json()


def test_urls_are_encrypted_at_rest(host, verifying_receiver):
    target = AlertTarget.objects.create(name="pager", kind="webhook", address=verifying_receiver.url)
    delivery = alerts.raise_alert(host, alerts.EVENT_FAILED, "luna FAILED", {"checks": []}).deliveries.get()
    for table, pk in (("health_alerttarget", target.pk), ("health_alertdelivery", delivery.pk)):
        stored = raw_column(table, "address", pk)
        assert TOKEN not in stored and "127.0.0.1" not in stored
    assert target.signing_secret not in raw_column("health_alerttarget", "signing_secret", target.pk)
    delivery.refresh_from_db()
    assert delivery.address == verifying_receiver.url


def test_each_delivery_is_signed_and_a_real_receiver_verifies_it(host, verifying_receiver):
    target = AlertTarget.objects.create(name="pager", kind="webhook", address=verifying_receiver.url)
    verifying_receiver.secret = target.signing_secret  # what the admin copied into the receiver
    delivery = alerts.raise_alert(host, alerts.EVENT_FAILED, "luna FAILED", {"checks": []}).deliveries.get()
    assert alerts.attempt_delivery(delivery) is True
    (path, payload), = verifying_receiver.verified
    assert path == f"/hooks/{TOKEN}?key={TOKEN}" and payload["host"]["hostname"] == "luna"
    assert delivery.state == AlertDelivery.State.DELIVERED


def test_a_receiver_with_another_secret_refuses_and_the_error_hides_the_url(host, verifying_receiver):
    AlertTarget.objects.create(name="pager", kind="webhook", address=verifying_receiver.url)
    verifying_receiver.secret = "not-the-console-secret"
    delivery = alerts.raise_alert(host, alerts.EVENT_FAILED, "luna FAILED", {"checks": []}).deliveries.get()
    assert alerts.attempt_delivery(delivery) is False
    assert verifying_receiver.refused and not verifying_receiver.verified
    assert delivery.attempt_log.get().status_code == 401


def test_a_connection_error_never_names_the_url(host):
    AlertTarget.objects.create(name="gone", kind="webhook", address=f"http://127.0.0.1:9/hooks/{TOKEN}?key={TOKEN}")
    delivery = alerts.raise_alert(host, alerts.EVENT_FAILED, "luna FAILED", {"checks": []}).deliveries.get()
    assert alerts.attempt_delivery(delivery) is False
    error = delivery.attempt_log.get().error
    assert error and TOKEN not in error and "/hooks" not in error


def test_pages_the_api_and_the_change_log_show_only_scheme_and_host(admin_api, viewer, host, verifying_receiver):
    created = admin_api.post(API, {"name": "pager", "kind": "webhook", "address": verifying_receiver.url})
    target = AlertTarget.objects.get(pk=created.json()["id"])
    admin_api.patch(f"{API}{target.pk}/", {"address": f"https://hooks.example/{TOKEN}/2"})
    alerts.raise_alert(host, alerts.EVENT_FAILED, "luna FAILED", {"checks": []})
    client = Client()
    client.force_login(viewer)
    pages = [client.get(reverse(name)).content.decode() for name in ("health:settings", "health:alerts")]
    assert "https://hooks.example/…" in pages[0]
    shown = pages + [admin_api.get("/api/health/alerts/").content.decode(),
                     admin_api.get("/api/changelog/", {"limit": 200}).content.decode()]
    assert all(TOKEN not in text for text in shown)
    change = LogEntry.objects.get_for_object(target).latest("timestamp").changes_dict
    assert change["address"][1] == "https://hooks.example/…" and "signing_secret" not in change


def test_email_targets_still_show_their_addresses(admin_api):
    answer = admin_api.post(API, {"name": "ops", "kind": "email", "address": "ops@example.com"})
    assert answer.status_code == 201 and answer.json()["shown_address"] == "ops@example.com"
    assert answer.json()["new_signing_secret"] is None
    assert AlertTarget.objects.get(name="ops").signing_secret == ""


def test_the_console_form_shows_a_new_secret_once_and_never_renders_the_url_back(admin_user):
    client = Client()
    client.force_login(admin_user)
    form_page = client.get(reverse("health:alerttarget_add"))
    secret = form_page.context["form"]["new_signing_secret"].value()
    assert secret and secret in form_page.content.decode()
    url = f"https://hooks.example/{TOKEN}"
    answer = client.post(reverse("health:alerttarget_add"), {"name": "pager", "kind": "webhook", "address": url,
                                                              "enabled": "on", "new_signing_secret": secret})
    assert answer.status_code == 302
    target = AlertTarget.objects.get(name="pager")
    assert (target.address, target.signing_secret) == (url, secret)
    edit_url = reverse("health:alerttarget_edit", args=[target.pk])
    edit_page = client.get(edit_url).content.decode()
    assert TOKEN not in edit_page and secret not in edit_page and "https://hooks.example/…" in edit_page
    answer = client.post(edit_url, {"name": "pager 2", "kind": "webhook", "address": "", "enabled": "on",
                                    "new_signing_secret": ""})
    assert answer.status_code == 302
    target.refresh_from_db()
    assert (target.name, target.address, target.signing_secret) == ("pager 2", url, secret)


def test_a_new_webhook_without_a_secret_is_a_form_error(admin_user):
    client = Client()
    client.force_login(admin_user)
    answer = client.post(reverse("health:alerttarget_add"), {"name": "pager", "kind": "webhook", "enabled": "on",
                                                              "address": "https://hooks.example/x",
                                                              "new_signing_secret": ""})
    assert answer.status_code == 400 and "Keep the generated secret" in answer.content.decode()
    assert not AlertTarget.objects.exists()
