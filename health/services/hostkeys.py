"""SSH host keys: record what hosts offer, trust a key on an operator's word.

A key seen for the first time is pending: the SSH check fails until an operator compares
its fingerprint and trusts it. A key other than the trusted one of its type is a changed
host key: the check fails loudly, the journal and an alert say so, and only an operator
trusting the new key (which retires the old one) ends it.
"""

from django.db import transaction
from django.utils import timezone

from inventory.models import HostStatus, JournalEntry
from inventory.services import add_journal_entry

from ..drivers import ssh as ssh_driver
from ..models import HostKey
from . import alerts


class FingerprintMismatch(ValueError):
    """The operator confirmed a fingerprint other than the key's."""


def record_offered(host, offered, now):
    """Remember an untrusted key the host offered; returns the HostKey."""
    key, created = HostKey.objects.get_or_create(
        host=host, key_type=offered.key_type, key=offered.key,
        defaults={"fingerprint": offered.fingerprint, "replaces": offered.replaces, "last_seen": now},
    )
    if not created:
        HostKey.objects.filter(pk=key.pk).update(last_seen=now)
        return key
    if offered.replaces:
        text = (f"SSH HOST KEY CHANGED on {host.hostname}: expected {offered.replaces}, got {offered.fingerprint} "
                f"({offered.key_type}). The SSH check fails until an operator has verified the new key (reinstall? "
                "or someone in the middle?) and trusts it.")
        add_journal_entry(host, text, kind=JournalEntry.Kind.INCIDENT)
        if host.status != HostStatus.MAINTENANCE:
            alerts.raise_alert(host, alerts.EVENT_HOST_KEY_CHANGED, f"{host.hostname}: SSH HOST KEY CHANGED",
                               {"expected": offered.replaces, "got": offered.fingerprint, "key_type": offered.key_type,
                                "checks": []})
    else:
        add_journal_entry(host, f"New SSH host key offered by {host.hostname}: {offered.key_type} {offered.fingerprint}. "
                                "It waits for an operator to trust it.", kind=JournalEntry.Kind.SYSTEM)
    return key


@transaction.atomic
def trust(key, user, confirm_fingerprint=None):
    """Trust `key` (the operator compared its fingerprint). Retires the trusted key of the
    same type it replaces. `confirm_fingerprint`, when given, must be the key's."""
    key = HostKey.objects.select_for_update().select_related("host").get(pk=key.pk)
    if confirm_fingerprint is not None and confirm_fingerprint.strip() != key.fingerprint:
        raise FingerprintMismatch(f"The key's fingerprint is {key.fingerprint}, not {confirm_fingerprint.strip()}.")
    if key.trusted:
        return key
    retired = list(
        HostKey.objects.filter(host=key.host, key_type=key.key_type, trusted_at__isnull=False).exclude(pk=key.pk)
    )
    for old in retired:
        old.delete()
    # Other untrusted keys of the type are claims the operator just decided against.
    HostKey.objects.filter(host=key.host, key_type=key.key_type, trusted_at__isnull=True).exclude(pk=key.pk).delete()
    key.trusted_at, key.trusted_by = timezone.now(), user
    key.save(update_fields=["trusted_at", "trusted_by"])
    who = user.get_username() if user else "the system"
    text = f"SSH host key trusted by {who}: {key.key_type} {key.fingerprint}"
    if retired:
        text += f" (replaces {', '.join(old.fingerprint for old in retired)})"
    add_journal_entry(key.host, text, author=user, kind=JournalEntry.Kind.SYSTEM)
    return key


def trust_public_key(host, public_key_line, user):
    """Trust a key known beforehand (from the installer, or `ssh-keyscan` run by hand)."""
    key_type, key_base64 = ssh_driver.parse_public_key_line(public_key_line)
    fingerprint = ssh_driver.fingerprint(ssh_driver.public_key_from(key_type, key_base64))
    key, _ = HostKey.objects.get_or_create(host=host, key_type=key_type, key=key_base64,
                                           defaults={"fingerprint": fingerprint})
    return trust(key, user)


def pending_keys():
    return HostKey.objects.filter(trusted_at__isnull=True).select_related("host")
