# Webhook URLs carry tokens: alert targets' and deliveries' addresses are now stored
# encrypted, every webhook target gets a signing secret, and the URLs already written in
# clear into delivery errors and the change log are masked.

import core.crypto
from django.db import migrations


def _tables(apps):
    return {name: apps.get_model("health", name)._meta.db_table for name in ("AlertTarget", "AlertDelivery",
                                                                                 "DeliveryAttempt")}


def encrypt_sign_and_mask(apps, schema_editor):
    from core.crypto import encrypt
    from health.webhooks import mask_address, new_signing_secret, scrub

    tables, q = _tables(apps), schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT id, kind, address FROM {q(tables['AlertTarget'])}")
        for pk, kind, address in cursor.fetchall():
            secret = encrypt(new_signing_secret()) if kind == "webhook" else ""
            cursor.execute(f"UPDATE {q(tables['AlertTarget'])} SET address = %s, signing_secret = %s WHERE id = %s",
                           [encrypt(address) if address else address, secret, pk])
        cursor.execute(f"SELECT id, address FROM {q(tables['AlertDelivery'])}")
        for pk, address in cursor.fetchall():
            cursor.execute(f"UPDATE {q(tables['AlertDelivery'])} SET address = %s WHERE id = %s",
                           [encrypt(address) if address else address, pk])
            cursor.execute(f"SELECT id, error FROM {q(tables['DeliveryAttempt'])} WHERE delivery_id = %s", [pk])
            for attempt, error in cursor.fetchall():
                if scrub(error, address) != error:
                    cursor.execute(f"UPDATE {q(tables['DeliveryAttempt'])} SET error = %s WHERE id = %s",
                                   [scrub(error, address), attempt])
    content_type = apps.get_model("contenttypes", "ContentType").objects.filter(app_label="health",
                                                                               model="alerttarget").first()
    if content_type is None:
        return
    for entry in apps.get_model("auditlog", "LogEntry").objects.filter(content_type=content_type):
        if isinstance(entry.changes, dict) and "address" in entry.changes:
            entry.changes["address"] = [mask_address(value) if isinstance(value, str) else value
                                        for value in entry.changes["address"]]
            entry.save(update_fields=["changes"])


def decrypt(apps, schema_editor):
    # Back to plain columns (the masked logs and errors stay masked).
    from core.crypto import decrypt as decrypt_value

    tables, q = _tables(apps), schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        for table in (tables["AlertTarget"], tables["AlertDelivery"]):
            cursor.execute(f"SELECT id, address FROM {q(table)}")
            for pk, address in cursor.fetchall():
                cursor.execute(f"UPDATE {q(table)} SET address = %s WHERE id = %s",
                               [decrypt_value(address) if address else address, pk])


class Migration(migrations.Migration):

    dependencies = [
        ("health", "0002_fencing_recovery"),
        ("auditlog", "0017_add_actor_email"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AddField(
            model_name="alerttarget",
            name="signing_secret",
            field=core.crypto.EncryptedTextField(
                blank=True, editable=False,
                help_text="HMAC-SHA256 key signing each webhook delivery; generated for a webhook that has none",
            ),
        ),
        migrations.AlterField(
            model_name="alertdelivery",
            name="address",
            field=core.crypto.EncryptedTextField(help_text="As it was when the alert was raised; stored encrypted",
                                                 max_length=500),
        ),
        migrations.AlterField(
            model_name="alerttarget",
            name="address",
            field=core.crypto.EncryptedTextField(help_text="Email address(es), comma-separated, or the webhook URL",
                                                 max_length=500),
        ),
        migrations.RunPython(encrypt_sign_and_mask, decrypt),
    ]
