"""health 0003 on data written before it: addresses encrypted, webhook targets given a
signing secret, and the URLs already in delivery errors and the change log masked."""

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from health.models import AlertDelivery, AlertTarget, DeliveryAttempt
from inventory.models import Host, Site

BEFORE = [("health", "0002_fencing_recovery")]
AFTER = [("health", "0003_webhook_urls_encrypted_and_signed")]
URL = "https://hooks.example/services/T0KEN-77?key=T0KEN-77"


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def before_0003(transactional_db):
    old = migrate(BEFORE)
    yield old
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_existing_urls_are_encrypted_signed_and_masked(before_0003):
    old = before_0003
    host = Host.objects.create(hostname="luna", site=Site.objects.create(name="A", slug="a"))
    target = old.get_model("health", "AlertTarget").objects.create(name="hook", kind="webhook", address=URL)
    old.get_model("health", "AlertTarget").objects.create(name="mail", kind="email", address="ops@example.com")
    alert = old.get_model("health", "Alert").objects.create(host_id=host.pk, event="failed", summary="x")
    delivery = old.get_model("health", "AlertDelivery").objects.create(alert=alert, target=target, target_name="hook",
                                                                       kind="webhook", address=URL)
    old.get_model("health", "DeliveryAttempt").objects.create(
        delivery=delivery, number=1, ok=False,
        error="Max retries exceeded with url: /services/T0KEN-77?key=T0KEN-77 (Caused by refused)")
    logged = LogEntry.objects.create(content_type=ContentType.objects.get(app_label="health", model="alerttarget"),
                            object_pk=str(target.pk), object_id=target.pk, object_repr="hook", action=0,
                            changes={"address": ["None", URL]})

    migrate(AFTER)

    with connection.cursor() as cursor:
        cursor.execute("SELECT address FROM health_alerttarget UNION ALL SELECT address FROM health_alertdelivery")
        assert all("T0KEN" not in row[0] for row in cursor.fetchall())
    hook, mail = AlertTarget.objects.get(name="hook"), AlertTarget.objects.get(name="mail")
    assert hook.address == URL and len(hook.signing_secret) >= 32
    assert mail.address == "ops@example.com" and mail.signing_secret == ""
    assert AlertDelivery.objects.get().address == URL
    assert "T0KEN" not in DeliveryAttempt.objects.get().error
    logged.refresh_from_db()
    assert logged.changes["address"] == ["None", "https://hooks.example/…"]
