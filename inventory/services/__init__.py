"""Operations on the inventory. Views, the API, imports and tasks all call these."""

from django.db import transaction

from core.audit import acting_as

from ..models import STATUS_TRANSITIONS, Host, HostStatus, JournalEntry, Role, StatusChange, check_transition

# A host in service, and out of it for a while: it goes back to the status it had in service.
IN_SERVICE = (HostStatus.ACTIVE, HostStatus.SPARE)
OUT_OF_SERVICE = (HostStatus.MAINTENANCE, HostStatus.FAILED)


def add_journal_entry(host, text, author=None, kind=JournalEntry.Kind.NOTE, at=None):
    """Append to the host's journal; `at` is when it happened (default: now)."""
    when = {"created_at": at} if at is not None else {}
    return JournalEntry.objects.create(host=host, text=text, author=author, kind=kind, **when)


@transaction.atomic
def change_status(host, new_status, user=None, reason="", at=None):
    """Move a host through its lifecycle, refusing transitions the lifecycle forbids,
    and say so in the host's journal (dated `at`, default now)."""
    host = Host.objects.select_for_update().get(pk=host.pk)
    if host.status == new_status:
        return host
    check_transition(host.status, new_status)
    return move_status(host, new_status, user=user, reason=reason, at=at)


def move_status(host, new_status, user=None, reason="", at=None):
    """Record the move of a locked host to new_status: the status, its history and the
    journal. Callers check the move first (change_status: the lifecycle)."""
    old = host.status
    host.status = new_status
    with acting_as(user):
        host.save(update_fields=["status", "updated_at"])
    StatusChange.objects.create(host=host, old_status=old, new_status=new_status, reason=reason[:300],
                                user=user if user is not None and user.is_authenticated else None)
    text = f"Status {HostStatus(old).label} → {HostStatus(new_status).label}"
    if reason:
        text += f": {reason}"
    add_journal_entry(host, text, author=user, kind=JournalEntry.Kind.STATUS, at=at)
    return host


def status_to_return_to(host):
    """The status (active or spare) the host had before it went out of service (into
    maintenance or failed, maybe both in turn), as its status history says; active when
    the history does not say (a host older than the history, or changed around it)."""
    expected = Host.objects.filter(pk=host.pk).values_list("status", flat=True).get()  # not a stale copy's
    for change in StatusChange.objects.filter(host_id=host.pk).order_by("-created_at", "-id")[:50]:
        if change.new_status != expected:
            break  # a change the history did not see: it cannot tell
        if change.old_status in IN_SERVICE:
            return HostStatus(change.old_status)
        if change.old_status not in OUT_OF_SERVICE:
            break
        expected = change.old_status
    return HostStatus.ACTIVE


@transaction.atomic
def record_cloud_move(host, cloud_instance_id, user=None, reason=""):
    """The host's workload now runs in the cloud as cloud_instance_id: status migrated
    where the lifecycle allows it (a failed host keeps its status, and the journal says
    so). Returns the status the host had."""
    host = Host.objects.select_for_update().get(pk=host.pk)
    before = host.status
    Host.objects.filter(pk=host.pk).update(cloud_instance_id=cloud_instance_id[:100])
    if HostStatus.MIGRATED in STATUS_TRANSITIONS.get(before, ()) or before == HostStatus.MIGRATED:
        change_status(host, HostStatus.MIGRATED, user=user, reason=reason)
    else:
        add_journal_entry(host, f"{reason} (status stays {HostStatus(before).label.lower()}: the lifecycle does "
                                f"not go from there to migrated)", author=user, kind=JournalEntry.Kind.STATUS)
    return before


@transaction.atomic
def undo_cloud_move(host, user=None, reason=""):
    """A migration to the cloud was rolled back: forget the cloud instance; a migrated
    host is active again (the lifecycle's one way back from migrated)."""
    host = Host.objects.select_for_update().get(pk=host.pk)
    Host.objects.filter(pk=host.pk).update(cloud_instance_id="")
    if host.status == HostStatus.MIGRATED:
        change_status(host, HostStatus.ACTIVE, user=user, reason=reason)


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
