"""Trust in SSH host keys: an admin's act, for the address the host is reached at.

A key a host offers is pending until an admin compares its fingerprint with the host's
own and trusts it. The trust holds for the address the host was reached at then:
pointing the host elsewhere (a new management address, a hypervisor URI naming another
machine) ends it. The key goes back to pending, the host's journal says why, and
nothing logs in to the host with it until an admin trusts it again, so an operator
cannot send a host's logins (or a VM's disks) to another machine that shows the same key.
"""

from django.db import transaction
from django.utils import timezone

from core.actions import acting_user, action
from core.roles import Role
from inventory.models import JournalEntry
from inventory.services import add_journal_entry

from ..addresses import ssh_address
from ..drivers import ssh as ssh_driver
from ..models import HostKey


class FingerprintMismatch(ValueError):
    """The admin confirmed a fingerprint other than the key's."""


# Trusting a key decides which machine the console logs in to: an admin's act (or the
# system's, core.actions.SYSTEM: a management command on the server such as the lab set-up).
@action(Role.ADMIN, "trusting an SSH host key")
@transaction.atomic
def trust(key, *, user, confirm_fingerprint=None):
    """Trust `key` (an admin compared its fingerprint) for the address its host is
    reached at now. Retires the trusted key of the same type it replaces.
    `confirm_fingerprint`, when given, must be the key's."""
    key = HostKey.objects.select_for_update().select_related("host").get(pk=key.pk)
    if confirm_fingerprint is not None and confirm_fingerprint.strip() != key.fingerprint:
        raise FingerprintMismatch(f"The key's fingerprint is {key.fingerprint}, not {confirm_fingerprint.strip()}.")
    address = ssh_address(key.host)
    if key.trusted and key.trusted_address == address:
        return key
    retired = list(
        HostKey.objects.filter(host=key.host, key_type=key.key_type, trusted_at__isnull=False).exclude(pk=key.pk)
    )
    for old in retired:
        old.delete()
    # Other untrusted keys of the type are claims the admin just decided against.
    HostKey.objects.filter(host=key.host, key_type=key.key_type, trusted_at__isnull=True).exclude(pk=key.pk).delete()
    person = acting_user(user)
    key.trusted_at, key.trusted_by, key.trusted_address = timezone.now(), person, address
    key.save(update_fields=["trusted_at", "trusted_by", "trusted_address"])
    who = person.get_username() if person else "the system"
    text = f"SSH host key trusted by {who}: {key.key_type} {key.fingerprint} at {address or 'no address'}"
    if retired:
        text += f" (replaces {', '.join(old.fingerprint for old in retired)})"
    add_journal_entry(key.host, text, author=person, kind=JournalEntry.Kind.SYSTEM)
    return key


@action(Role.ADMIN, "trusting an SSH host key")
def trust_public_key(host, public_key_line, *, user):
    """Trust a key known beforehand (from the installer, or `ssh-keyscan` run by hand)."""
    key_type, key_base64 = ssh_driver.parse_public_key_line(public_key_line)
    fingerprint = ssh_driver.fingerprint(ssh_driver.public_key_from(key_type, key_base64))
    key, _ = HostKey.objects.get_or_create(host=host, key_type=key_type, key=key_base64,
                                           defaults={"fingerprint": fingerprint})
    return trust(key, user=user)


def pending_keys():
    return HostKey.objects.filter(trusted_at__isnull=True).select_related("host")


def trusted_keys(hosts):
    """{host id: [(key type, base64)]} of the keys trusted for the address each host is
    reached at now (hosts with everything ssh_address() reads loaded, e.g. interfaces).
    A key trusted for another address is revoked on the way: its host moved."""
    hosts = {host.pk: host for host in hosts}
    found = {}
    for key in HostKey.objects.filter(host_id__in=hosts, trusted_at__isnull=False).order_by("pk"):
        host = hosts[key.host_id]
        if key.trusted_address == ssh_address(host):
            found.setdefault(host.pk, []).append((key.key_type, key.key))
        else:
            key.host = host
            revoke(key, ssh_address(host))
    return found


def revoke_if_moved(host):
    """Revoke the host's trusted keys that were trusted for another address than the one
    it is reached at now; returns them. Called whenever a host's address may have changed."""
    address = ssh_address(host)
    moved = list(HostKey.objects.filter(host=host, trusted_at__isnull=False).exclude(trusted_address=address))
    for key in moved:
        key.host = host
        revoke(key, address)
    return moved


def revoke(key, address):
    """The key is pending again (the row stays, for an admin to trust again); the journal says why."""
    was = key.trusted_address
    key.trusted_at, key.trusted_by, key.trusted_address = None, None, ""
    key.save(update_fields=["trusted_at", "trusted_by", "trusted_address"])
    add_journal_entry(
        key.host,
        f"SSH host key {key.key_type} {key.fingerprint} of {key.host.hostname} is no longer trusted: it was trusted "
        f"at {was or 'no address'}, and the host is now reached at {address or 'no address'}. Nothing logs in to "
        "the host until an admin compares the fingerprint again and trusts it.",
        kind=JournalEntry.Kind.SYSTEM,
    )
