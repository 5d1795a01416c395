"""Failure detection: what one round of checks means for a host.

A round is one sweep's checks of one host. It counts only through the liveness checks
(HEALTH_LIVENESS_CHECKS, SSH login and libvirt by default): the round fails when every
liveness check that ran got no answer from the host, and succeeds when any of them did
(a refused login or a changed host key still prove the host is up; they fail their
check, loudly, but never make a host "failed").

    unknown --first success--> healthy
    healthy/unknown --failed round--> suspect
    suspect --N failed rounds within the window--> failed
    suspect/failed --M successful rounds in a row--> healthy

Each change is a HealthEvent and a journal entry with the evidence. Acting on a failure
(alert, inventory status failed where the lifecycle allows, the on_host_failed hook) and
on a recovery (alert, hook) happens once per failure. A host in maintenance is watched
but never acted on; a host changing state more than K times an hour is "flapping" and
its alerts are held back.
"""

from datetime import datetime, timedelta

from django.db import transaction

from inventory.models import Host, HostStatus, JournalEntry
from inventory.services import add_journal_entry, change_status

from .. import conf
from ..models import CheckResult, CheckStatus, HealthEvent, HealthState, HostHealth
from . import alerts, hooks

# Statuses the lifecycle lets go to failed (active/spare -> failed).
FAILABLE = (HostStatus.ACTIVE, HostStatus.SPARE)
EVIDENCE_RESULTS = 20


def round_outcome(outcomes):
    """True (the host answered), False (it did not), None (no liveness check ran)."""
    live = conf.liveness_checks()
    evidence = [o for o in outcomes if o.check in live and o.alive is not None]
    if not evidence:
        return None
    return any(o.alive for o in evidence)


def next_state(health, alive, now):
    """Count the round on `health` and return the state it leads to."""
    state = health.state
    if alive is None:
        return state
    if alive:
        health.consecutive_failures = 0
        health.failure_times = []
        health.consecutive_successes += 1
        if state == HealthState.UNKNOWN:
            return HealthState.HEALTHY
        if state in (HealthState.SUSPECT, HealthState.FAILED) and \
                health.consecutive_successes >= conf.integer("HEALTH_RECOVERY_THRESHOLD"):
            return HealthState.HEALTHY
        return state
    threshold = conf.integer("HEALTH_FAILURE_THRESHOLD")
    cutoff = now - timedelta(seconds=conf.number("HEALTH_FAILURE_WINDOW_SECONDS"))
    health.consecutive_successes = 0
    health.consecutive_failures += 1
    times = [t for t in health.failure_times if datetime.fromisoformat(t) >= cutoff] + [now.isoformat()]
    health.failure_times = times[-max(threshold, 1):]
    if len(times) >= threshold:
        return HealthState.FAILED
    if state in (HealthState.HEALTHY, HealthState.UNKNOWN):
        return HealthState.SUSPECT
    return state


def evaluate(host, outcomes, now):
    """Count one round of `outcomes` for `host`; record and act on what changed."""
    after_commit = []
    with transaction.atomic():
        host = Host.objects.select_related("site", "role").get(pk=host.pk)
        health, _ = HostHealth.objects.select_for_update().get_or_create(host=host, defaults={"since": now})
        health.last_check_at = now
        health.failing_checks = sorted(
            CheckStatus.objects.filter(host=host, ok=False).values_list("check_type", flat=True)
        )
        old = health.state
        new = next_state(health, round_outcome(outcomes), now)
        watched = host.status != HostStatus.MAINTENANCE
        if new != old:
            health.state, health.since = new, now
            event = HealthEvent.objects.create(host=host, from_state=old, to_state=new, at=now,
                                               evidence=evidence(host, health, now, outcomes))
            _update_flapping(host, health, now, watched)
            if watched and (not health.flapping or new == HealthState.FAILED or old == HealthState.FAILED):
                add_journal_entry(host, journal_text(host, event), kind=_journal_kind(new))
        elif health.flapping:
            _update_flapping(host, health, now, watched)
        if watched:
            after_commit = _act(host, health, now, outcomes)
        health.save()
    for action in after_commit:
        transaction.on_commit(action)
    return health


def _act(host, health, now, outcomes):
    """Alert, change the inventory status and call the hooks, once per failure/recovery.
    Returns the hook calls to make once committed."""
    if health.state == HealthState.FAILED and health.alerted_state != HealthState.FAILED:
        proof = evidence(host, health, now)
        if host.status in FAILABLE:
            change_status(host, HostStatus.FAILED, reason=f"health checks: {failure_summary(proof)}")
        if not health.flapping:
            alerts.raise_alert(host, alerts.EVENT_FAILED, f"{host.hostname} FAILED: {failure_summary(proof)}", proof)
        health.alerted_state = HealthState.FAILED
        return [lambda: hooks.on_host_failed(host, proof)]
    if health.state == HealthState.HEALTHY and health.alerted_state == HealthState.FAILED:
        proof = evidence(host, health, now, outcomes)
        if not health.flapping:
            alerts.raise_alert(host, alerts.EVENT_RECOVERED, f"{host.hostname} recovered: its checks answer again",
                               proof)
        health.alerted_state = HealthState.HEALTHY
        return [lambda: hooks.on_host_recovered(host, proof)]
    return []


def _update_flapping(host, health, now, watched):
    window = timedelta(seconds=conf.number("HEALTH_FLAP_WINDOW_SECONDS"))
    changes = HealthEvent.objects.filter(host=host, at__gte=now - window).count()
    threshold = conf.integer("HEALTH_FLAP_THRESHOLD")
    if not health.flapping and changes > threshold:
        health.flapping, health.flapping_since = True, now
        if watched:
            text = (f"Health: {host.hostname} is FLAPPING ({changes} state changes in the last "
                    f"{int(window.total_seconds() // 60)} min). Alerts are held back until it settles; "
                    "failures are still detected and acted on.")
            add_journal_entry(host, text, kind=JournalEntry.Kind.INCIDENT)
            alerts.raise_alert(host, alerts.EVENT_FLAPPING, f"{host.hostname} is flapping ({changes} changes)",
                               evidence(host, health, now))
    elif health.flapping and changes <= threshold:
        health.flapping, health.flapping_since = False, None
        if watched:
            add_journal_entry(host, f"Health: {host.hostname} stopped flapping; it is {health.state} now.",
                              kind=JournalEntry.Kind.SYSTEM)


def _journal_kind(state):
    return JournalEntry.Kind.INCIDENT if state == HealthState.FAILED else JournalEntry.Kind.SYSTEM


# --- evidence -----------------------------------------------------------------------------


def evidence(host, health, now, outcomes=()):
    """What led to the host's current state, as JSON: the rounds counted, and the checks
    behind it (the failed results of the window for a failure, this round's otherwise)."""
    window = conf.number("HEALTH_FAILURE_WINDOW_SECONDS")
    if health.state in (HealthState.SUSPECT, HealthState.FAILED):
        results = CheckResult.objects.filter(host=host, ok=False, checked_at__gte=now - timedelta(seconds=window))
        checks = [
            {"check": r.check_type, "ok": r.ok, "alive": r.alive, "message": r.message, "at": r.checked_at.isoformat()}
            for r in results.order_by("-checked_at", "-id")[:EVIDENCE_RESULTS]
        ]
    else:
        checks = [{"check": o.check, "ok": o.ok, "alive": o.alive, "message": o.message, "at": now.isoformat()}
                  for o in outcomes]
    return {
        "host": host.hostname,
        "host_id": host.pk,
        "status": host.status,
        "state": health.state,
        "at": now.isoformat(),
        "failed_rounds": len(health.failure_times),
        "failure_times": list(health.failure_times),
        "threshold": conf.integer("HEALTH_FAILURE_THRESHOLD"),
        "window_seconds": window,
        "successful_rounds": health.consecutive_successes,
        "recovery_threshold": conf.integer("HEALTH_RECOVERY_THRESHOLD"),
        "flapping": health.flapping,
        "checks": checks,
    }


def failure_summary(proof):
    return (f"{proof['failed_rounds']} failed round{'s' if proof['failed_rounds'] != 1 else ''} of checks within "
            f"{proof['window_seconds']:g} s (threshold {proof['threshold']})")


def journal_text(host, event):
    proof = event.evidence
    at = event.at.strftime("%H:%M:%S")
    if event.to_state == HealthState.FAILED:
        head = f"Health: {host.hostname} is FAILED at {at} — {failure_summary(proof)}."
    elif event.to_state == HealthState.SUSPECT:
        head = f"Health: {host.hostname} is SUSPECT at {at} — a round of checks got no answer."
    elif event.to_state == HealthState.HEALTHY and event.from_state == HealthState.FAILED:
        head = (f"Health: {host.hostname} RECOVERED at {at} — {proof['successful_rounds']} successful rounds in a row. "
                f"Its inventory status stays {host.get_status_display().lower()}: putting it back is a human "
                "decision (failed → maintenance → active, once the cause is understood).")
    elif event.to_state == HealthState.HEALTHY:
        head = f"Health: {host.hostname} is healthy again at {at} (was {event.from_state})."
    else:
        head = f"Health: {host.hostname} is {event.to_state} at {at} (was {event.from_state})."
    lines = [head]
    for check in proof.get("checks", [])[:10]:
        when = datetime.fromisoformat(check["at"]).strftime("%H:%M:%S")
        lines.append(f"- {when} {check['check']} {'ok' if check['ok'] else 'FAILED'}: {check['message']}")
    return "\n".join(lines)
