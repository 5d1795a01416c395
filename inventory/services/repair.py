"""A failed host that was repaired goes back into service, in one action.

    mark_repaired(host, user=request.user, note="PSU replaced")   # failed → active (or spare)

The console's button on the host page and the API's POST /api/inventory/hosts/N/repaired/
both call it; its role is declared here once.
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from core.actions import acting_user, action
from core.roles import Role

from ..models import Host, HostStatus, JournalEntry
from . import add_journal_entry, move_status, status_to_return_to

FAILING_STATE = "failed"  # health.models.HealthState.FAILED


def repair_refusal(host):
    """Why the host cannot be marked repaired now, in a sentence; None when it can."""
    if host.status != HostStatus.FAILED:
        return (f"{host.hostname} is {HostStatus(host.status).label.lower()}, not failed: only a failed host is "
                f"marked repaired.")
    state, failing = Host.objects.filter(pk=host.pk).values_list("health__state", "health__failing_checks").get()
    if state == FAILING_STATE or failing:
        return (f"{host.hostname}'s health checks still fail ({', '.join(failing or []) or state}): repair what "
                f"they find, and mark it repaired once they pass.")
    return None


@action(Role.OPERATOR, "marking a host repaired")
@transaction.atomic
def mark_repaired(host, *, user, note=""):
    """The failed host is repaired: back to the status it had before it failed (active,
    or spare for a spare), in its journal with who and the note. Raises ValidationError
    with a sentence when the host is not failed or its health checks still fail."""
    host = Host.objects.select_for_update().get(pk=host.pk)
    refusal = repair_refusal(host)
    if refusal:
        raise ValidationError({"status": refusal})
    person = acting_user(user)
    back = status_to_return_to(host)
    reason = f"repaired, back in service as {back.label.lower()}" + (f": {note}" if note else "")
    move_status(host, back, user=person, reason=reason)
    add_journal_entry(host, f"Repaired{f': {note}' if note else ''}", author=person, kind=JournalEntry.Kind.REPAIR)
    return host
