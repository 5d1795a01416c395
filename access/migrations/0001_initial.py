"""access takes over health's SSHCredential and HostKey: their tables (health_sshcredential,
its role and host links, health_hostkey) and rows stay as they are; only Django's state
moves (health drops the models in health 0003). Their content types move too, so the
change log's entries and the permissions of the models follow them."""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import core.crypto

MODELS = ("sshcredential", "hostkey")


def move_content_types(source, target):
    def move(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        types = ContentType.objects.using(schema_editor.connection.alias)
        for model in MODELS:
            old = types.filter(app_label=source, model=model).first()
            if old is None:
                continue  # a new database: post_migrate creates the type under its app
            # Made by a migrate that stopped between the two apps' migrations; the old
            # type is the one the change log and the permissions point at.
            types.filter(app_label=target, model=model).delete()
            old.app_label = target
            old.save(update_fields=["app_label"])

    return move


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("health", "0001_initial"),  # created the tables
        ("inventory", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="HostKey",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("key_type", models.CharField(max_length=64)),
                        ("key", models.TextField(help_text="The public key, base64 as in known_hosts")),
                        ("fingerprint", models.CharField(help_text="SHA256:… as ssh-keygen -l prints it", max_length=100)),
                        ("first_seen", models.DateTimeField(auto_now_add=True)),
                        ("last_seen", models.DateTimeField(blank=True, null=True)),
                        ("replaces", models.CharField(blank=True, help_text="Fingerprint of the trusted key this one would replace (a changed host key)", max_length=100)),
                        ("trusted_at", models.DateTimeField(blank=True, null=True)),
                        ("host", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="ssh_host_keys", to="inventory.host")),
                        ("trusted_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "verbose_name": "SSH host key",
                        "ordering": ["host__hostname", "-first_seen"],
                        "db_table": "health_hostkey",
                        "constraints": [models.UniqueConstraint(fields=("host", "key_type", "key"), name="host_key_unique")],
                    },
                ),
                migrations.CreateModel(
                    name="SSHCredential",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=100, unique=True)),
                        ("username", models.CharField(default="root", max_length=64)),
                        ("port", models.PositiveIntegerField(default=22, help_text="SSH port of the hosts this credential is used for", validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(65535)])),
                        ("private_key", core.crypto.EncryptedTextField(help_text="OpenSSH or PEM private key; stored encrypted, never shown again")),
                        ("passphrase", core.crypto.EncryptedTextField(blank=True, help_text="Of the private key, if it has one; stored encrypted")),
                        ("is_default", models.BooleanField(default=False, help_text="Used for hosts no other credential names")),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("hosts", models.ManyToManyField(blank=True, related_name="ssh_credentials", to="inventory.host")),
                        ("roles", models.ManyToManyField(blank=True, related_name="ssh_credentials", to="inventory.role")),
                    ],
                    options={
                        "verbose_name": "SSH credential",
                        "ordering": ["name"],
                        "db_table": "health_sshcredential",
                        "constraints": [models.UniqueConstraint(condition=models.Q(("is_default", True)), fields=("is_default",), name="one_default_ssh_credential")],
                    },
                ),
            ],
        ),
        migrations.RunPython(move_content_types("health", "access"), move_content_types("access", "health")),
    ]
