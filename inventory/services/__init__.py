"""Operations on the inventory. Views, the API, imports and tasks all call these."""

from core.audit import acting_as
from django.db import transaction

from ..models import Host, HostStatus, JournalEntry, Role, check_transition


def add_journal_entry(host, text, author=None, kind=JournalEntry.Kind.NOTE):
    return JournalEntry.objects.create(host=host, text=text, author=author, kind=kind)


@transaction.atomic
def change_status(host, new_status, user=None, reason=""):
    """Move a host through its lifecycle, refusing transitions the lifecycle forbids,
    and say so in the host's journal."""
    host = Host.objects.select_for_update().get(pk=host.pk)
    old = host.status
    if old == new_status:
        return host
    check_transition(old, new_status)
    host.status = new_status
    with acting_as(user):
        host.save(update_fields=["status", "updated_at"])
    text = f"Status {HostStatus(old).label} → {HostStatus(new_status).label}"
    if reason:
        text += f": {reason}"
    add_journal_entry(host, text, author=user, kind=JournalEntry.Kind.STATUS)
    return host


def free_names(role: Role):
    """The role's pool names that no host uses yet, in pool order."""
    if role.naming_scheme_id is None:
        return []
    pool = role.naming_scheme.names
    taken = set(Host.objects.filter(hostname__in=pool).values_list("hostname", flat=True))
    return [name for name in pool if name not in taken]


def suggest_name(role: Role):
    """The next free name from the role's naming scheme, or None when the pool is empty."""
    names = free_names(role)
    return names[0] if names else None
