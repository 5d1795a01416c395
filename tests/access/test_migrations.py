"""An existing installation keeps its SSH credentials and host keys when access takes them
over from health: the database is taken back to before the move, filled through the models
as they were (health's), and migrated forward; the rows, their links, their encrypted key,
their trust, the change log and the permissions are all there under access."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from access.models import HostKey, SSHCredential

BEFORE_THE_MOVE = ("health", "0002_fencing_recovery")


def executor():
    return MigrationExecutor(connection)


def leaves():
    return executor().loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_migrating_forward_keeps_every_row():
    before = [node for node in leaves() if node[0] not in ("access", "health")] + [BEFORE_THE_MOVE]
    try:
        old = executor().migrate(before + [("access", None)]).apps
        secret = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot parsed here\n-----END OPENSSH PRIVATE KEY-----"
        rows = fill_as_health_had_them(old, secret)

        executor().migrate(leaves())
        ContentType.objects.clear_cache()

        credential = SSHCredential.objects.get(pk=rows["credential"])
        assert credential.private_key == secret and credential.passphrase == "p4ss"
        assert [h.hostname for h in credential.hosts.all()] == ["luna", "titan"]
        assert [r.slug for r in credential.roles.all()] == ["app"]
        trusted = HostKey.objects.get(pk=rows["trusted"])
        assert trusted.trusted and trusted.trusted_by.username == "ada"
        assert trusted.trusted_address == "198.18.0.7"  # bound to the host's address of the day
        pending = HostKey.objects.get(pk=rows["pending"])
        assert not pending.trusted and pending.trusted_address == ""
        assert trusted.host.ssh_host_keys.count() == 2 and credential in trusted.host.ssh_credentials.all()

        moved = ContentType.objects.get(pk=rows["content_type"])
        assert (moved.app_label, moved.model) == ("access", "hostkey")
        assert moved.model_class() is HostKey
        assert not ContentType.objects.filter(app_label="health", model__in=["hostkey", "sshcredential"]).exists()
        from auditlog.models import LogEntry
        from django.contrib.auth.models import Permission

        assert LogEntry.objects.get(pk=rows["log_entry"]).content_type == moved
        assert Permission.objects.get(pk=rows["permission"]).content_type == moved
    finally:
        executor().migrate(leaves())
        ContentType.objects.clear_cache()


def fill_as_health_had_them(apps, secret):
    Site, Role, Host = (apps.get_model("inventory", name) for name in ("Site", "Role", "Host"))
    Credential, Key = apps.get_model("health", "SSHCredential"), apps.get_model("health", "HostKey")
    ContentTypes, LogEntry = apps.get_model("contenttypes", "ContentType"), apps.get_model("auditlog", "LogEntry")
    Permission, User = apps.get_model("auth", "Permission"), apps.get_model("auth", "User")

    site = Site.objects.create(name="Amsterdam DC1", slug="ams1")
    role = Role.objects.create(name="App server", slug="app")
    luna = Host.objects.create(hostname="luna", site=site, role=role, status="active", mgmt_address="198.18.0.7")
    titan = Host.objects.create(hostname="titan", site=site, status="active")
    ada = User.objects.create(username="ada")
    credential = Credential.objects.create(name="fleet", private_key=secret, passphrase="p4ss", is_default=True)
    credential.hosts.set([luna, titan])
    credential.roles.set([role])
    trusted = Key.objects.create(host=luna, key_type="ssh-ed25519", key="AAAAtrusted", fingerprint="SHA256:t",
                                 trusted_by=ada, trusted_at="2026-01-02T03:04:05Z")
    pending = Key.objects.create(host=luna, key_type="ssh-rsa", key="AAAApending", fingerprint="SHA256:p")
    content_type, _ = ContentTypes.objects.get_or_create(app_label="health", model="hostkey")
    entry = LogEntry.objects.create(content_type=content_type, object_pk=str(trusted.pk), object_id=trusted.pk,
                                    object_repr="luna ssh-ed25519 SHA256:t", action=1, changes={})
    permission, _ = Permission.objects.get_or_create(content_type=content_type, codename="change_hostkey",
                                                     defaults={"name": "Can change SSH host key"})
    return {"credential": credential.pk, "trusted": trusted.pk, "pending": pending.pk,
            "content_type": content_type.pk, "log_entry": entry.pk, "permission": permission.pk}
