"""SSH host keys the checks met: record what hosts offer (trusting is access's).

A key seen for the first time is pending: the SSH check fails until an admin compares
its fingerprint and trusts it. A key other than the trusted one of its type is a changed
host key: the check fails loudly, the journal and an alert say so, and only an admin
trusting the new key (which retires the old one) ends it.
"""

from access.models import HostKey
from inventory.models import HostStatus, JournalEntry
from inventory.services import add_journal_entry

from . import alerts


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
                f"({offered.key_type}). The SSH check fails until an admin has verified the new key (reinstall? "
                "or someone in the middle?) and trusts it.")
        add_journal_entry(host, text, kind=JournalEntry.Kind.INCIDENT)
        if host.status != HostStatus.MAINTENANCE:
            alerts.raise_alert(host, alerts.EVENT_HOST_KEY_CHANGED, f"{host.hostname}: SSH HOST KEY CHANGED",
                               {"expected": offered.replaces, "got": offered.fingerprint, "key_type": offered.key_type,
                                "checks": []})
    else:
        add_journal_entry(host, f"New SSH host key offered by {host.hostname}: {offered.key_type} {offered.fingerprint}. "
                                "It waits for an admin to trust it.", kind=JournalEntry.Kind.SYSTEM)
    return key
