"""Automatic recovery of a failed host ("Marvin is dead").

Detection calls `handle_host_failed` once per failure (through health.signals.host_failed).
A failed hypervisor gets a Recovery: at a site with auto-recovery on it runs at once (a
Job: fence, then restart the HA VMs elsewhere); otherwise it is proposed, and an operator
presses "Fence and restart" or, having checked it by hand, "Confirm powered off".
A failed host that is not a hypervisor is handed to the inventory's replacement proposal
(inventory.services.recovery.propose_replacement) when that exists.

Nothing is restarted unless the host was fenced (the agent read "off" back) or a person
confirmed it is off. Every step's evidence goes to the host's journal and the job log.
"""

import importlib
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.actions import SYSTEM, acting_user, action
from core.audit import acting_as
from core.jobs import JobCancelled, start
from core.roles import Role
from hypervisors.models import Hypervisor
from hypervisors.services import ha_restart
from inventory.models import HostStatus, JournalEntry
from inventory.services import add_journal_entry

from ..models import Alert, FenceAttempt, HealthState, HostHealth, Recovery, SiteRecoveryPolicy
from . import alerts, fencing

logger = logging.getLogger(__name__)

RECOVER_KIND = "health.recover"


class RecoveryRefused(Exception):
    """The recovery cannot start as asked; nothing was done."""


def auto_recovery_on(site):
    return SiteRecoveryPolicy.objects.filter(site=site, auto_recover=True).exists()


@action(Role.ADMIN, "turning auto-recovery on or off")
def set_auto_recovery(site, enabled, user=None):
    with acting_as(acting_user(user)):  # the change log names who turned it on or off
        policy, _ = SiteRecoveryPolicy.objects.update_or_create(site=site, defaults={"auto_recover": enabled})
    return policy


# --- detection's hook ------------------------------------------------------------------


def handle_host_failed(sender=None, host=None, evidence=None, **kwargs):
    """Receiver of health.signals.host_failed. Never raises into detection: a failure here
    is logged and written to the host's journal."""
    try:
        return _handle(host, evidence or {})
    except Exception as exc:  # detection must go on whatever recovery does
        logger.exception("recovery of %s could not start", host.hostname)
        add_journal_entry(host, f"Recovery: could not start after the failure of {host.hostname}: {exc}",
                          kind=JournalEntry.Kind.INCIDENT)
        return None


def _handle(host, evidence):
    hypervisor = Hypervisor.objects.filter(host=host).select_related("host__site").first()
    if hypervisor is None:
        propose = replacement_proposer()
        if propose is not None:
            return propose(host, evidence)
        return None
    if auto_recovery_on(host.site_id):
        return start_recovery(host, user=SYSTEM, automatic=True, evidence=evidence)
    return propose_recovery(hypervisor, evidence)


def replacement_proposer():
    """inventory.services.recovery.propose_replacement(host, evidence), if the inventory has it."""
    try:
        module = importlib.import_module("inventory.services.recovery")
    except ImportError:
        return None
    return getattr(module, "propose_replacement", None)


def propose_recovery(hypervisor, evidence):
    """Auto-recovery is off at the site: record the proposal (the console offers its buttons)
    and say in the journal what it would do."""
    host = hypervisor.host
    with transaction.atomic():
        recovery = Recovery.objects.filter(host=host, state__in=Recovery.OPEN_STATES).first()
        if recovery is None:
            recovery = Recovery.objects.create(host=host, evidence=evidence, state=Recovery.State.PROPOSED)
        plan = ha_restart.restart_plan(hypervisor)
        recovery.summary = proposal_summary(plan)[:500]
        recovery.save(update_fields=["summary"])
        add_journal_entry(host, f"Recovery PROPOSED for {host.hostname} (auto-recovery is off at site "
                                f"{host.site.name}): fence it, then {recovery.summary} "
                                "Use 'Fence and restart' or 'Confirm powered off' on its health page.",
                          kind=JournalEntry.Kind.SYSTEM)
    return recovery


def proposal_summary(plan):
    moves = ", ".join(f"{m['vm']} → {m['target']}" for m in plan["moves"])
    text = f"restart {len(plan['moves'])} HA VMs ({moves or 'none'})."
    if plan["unplaced"]:
        text += " Cannot place: " + "; ".join(f"{u['vm']} ({u['reason']})" for u in plan["unplaced"]) + "."
    return text


# --- starting a recovery -----------------------------------------------------------------


@action(Role.OPERATOR, "recovering a failed hypervisor")
def start_recovery(host, user=None, automatic=False, evidence=None, confirmed_off=False, note=""):
    """Create (or take over the proposed) Recovery of `host` and send its Job. With
    `confirmed_off`, `user` confirms the host is powered off: that is the fence. The site's
    auto-recovery policy starts it as SYSTEM."""
    person = acting_user(user)
    if not Hypervisor.objects.filter(host=host).exists():
        raise RecoveryRefused(f"{host.hostname} is not a hypervisor: there are no VMs to restart")
    if confirmed_off and person is None:
        raise RecoveryRefused("only a signed-in person can confirm a host is powered off")
    if not looks_failed(host):
        raise RecoveryRefused(f"{host.hostname} is not failed (status {host.status}, health "
                              f"{getattr(getattr(host, 'health', None), 'state', 'unknown')}): fencing a live host "
                              "is not a recovery; put it in maintenance instead")
    try:
        with transaction.atomic():
            recovery = Recovery.objects.select_for_update().filter(host=host, state__in=Recovery.OPEN_STATES).first()
            if recovery is not None and recovery.state == Recovery.State.RUNNING:
                if recovery.job is not None and not recovery.job.is_finished:
                    raise RecoveryRefused(f"a recovery of {host.hostname} is already running (job #{recovery.job_id})")
                # Its job ended without finishing it (a killed worker): a new attempt takes over.
                Recovery.objects.filter(pk=recovery.pk).update(
                    state=Recovery.State.FAILED, finished_at=timezone.now(),
                    summary=f"its job #{recovery.job_id} ended without finishing; superseded")
                recovery = None
            if recovery is None:
                recovery = Recovery(host=host, evidence=evidence or latest_evidence(host))
            attempt = None
            if confirmed_off:
                attempt = fencing.confirm_powered_off(host, person, note=note, evidence=recovery.evidence)
            title = f"{'Automatic recovery' if automatic else 'Recovery'} of {host.hostname}: " + (
                "restart HA VMs (confirmed off)" if confirmed_off else "fence and restart HA VMs")
            job = start(RECOVER_KIND, title, user=user, target=host,
                             params={"host_id": host.pk, "fence_attempt_id": attempt.pk if attempt else None})
            recovery.state, recovery.automatic, recovery.requested_by = Recovery.State.RUNNING, automatic, person
            recovery.job, recovery.fence_attempt = job, attempt
            recovery.save()
            add_journal_entry(host, f"Recovery of {host.hostname} started (job #{job.pk}) by "
                                    f"{'auto-recovery (site policy on)' if automatic else person.get_username()}.",
                              author=person, kind=JournalEntry.Kind.SYSTEM)
    except IntegrityError as exc:  # a concurrent start won the race
        raise RecoveryRefused(f"a recovery of {host.hostname} is already running") from exc
    return recovery


@action(Role.OPERATOR, "dismissing a recovery proposal")
def dismiss(recovery, user):
    if recovery.state != Recovery.State.PROPOSED:
        raise RecoveryRefused(f"only a proposed recovery can be dismissed (this one is {recovery.state})")
    Recovery.objects.filter(pk=recovery.pk).update(state=Recovery.State.DISMISSED, finished_at=timezone.now())
    add_journal_entry(recovery.host, f"Recovery proposal dismissed by {user.get_username()}.", author=user,
                      kind=JournalEntry.Kind.SYSTEM)


def latest_evidence(host):
    event = host.health_events.filter(to_state=HealthState.FAILED).order_by("-at").first()
    return event.evidence if event else {}


# --- the recovery job ----------------------------------------------------------------------


def run_recovery(job, recorder):
    """Fence (unless a person confirmed it off), then restart the HA VMs elsewhere. Safe to
    run again: a fenced host reads back off at once, and VMs already restarted have left
    the dead hypervisor."""
    recovery = Recovery.objects.select_related("host__site", "requested_by").get(job=job)
    try:
        return _recover(recovery, job, recorder)
    except RecoveryRefused:
        raise  # already recorded by _finish
    except BaseException as exc:  # cancelled, or anything unexpected: the recovery must not stay "running"
        why = "cancelled by an operator" if isinstance(exc, JobCancelled) else str(exc) or type(exc).__name__
        Recovery.objects.filter(pk=recovery.pk).update(state=Recovery.State.FAILED, summary=f"Stopped: {why}"[:500],
                                                       finished_at=timezone.now())
        add_journal_entry(recovery.host, f"Recovery of {recovery.host.hostname} stopped: {why}",
                          kind=JournalEntry.Kind.INCIDENT)
        raise


def _recover(recovery, job, recorder):
    host = recovery.host
    hypervisor = Hypervisor.objects.select_related("host").get(host=host)
    recorder.log(evidence_line(recovery.evidence))
    if recovery.automatic and not still_failed(host):
        return _finish(recovery, Recovery.State.FAILED, recorder,
                       f"{host.hostname} answers its checks again: not fenced, nothing restarted", raise_=True)
    recorder.progress(5, f"Fencing {host.hostname}")
    attempt = recovery.fence_attempt
    if attempt is None or not attempt.fenced:
        attempt = fencing.fence_host(host, user=recovery.requested_by, automatic=recovery.automatic,
                                     reason=f"recovery job #{job.pk}", evidence=recovery.evidence, job=job,
                                     recorder=recorder)
        Recovery.objects.filter(pk=recovery.pk).update(fence_attempt=attempt)
    else:
        recorder.log(f"{host.hostname} was confirmed powered off by {attempt.requested_by.get_username()} "
                     f"(fence attempt #{attempt.pk})")
    if not attempt.fenced:
        alerts.raise_alert(host, Alert.Event.FENCE_FAILED,
                           f"{host.hostname} could NOT be fenced: its VMs are not restarted anywhere",
                           {**recovery.evidence, "fence": fence_evidence(attempt)})
        return _finish(recovery, Recovery.State.FENCE_FAILED, recorder,
                       f"Fence of {host.hostname} failed (power read back: {attempt.power_state or 'unknown'}): "
                       "no VM was restarted anywhere. Check the host, then 'Confirm powered off'.", raise_=True)
    recorder.progress(20, f"{host.hostname} is off; restarting its HA VMs")
    outcome = ha_restart.restart_ha_vms(hypervisor, job, recorder, user=recovery.requested_by)
    state = Recovery.State.SUCCEEDED if not (outcome["failed"] or outcome["unplaced"]) else Recovery.State.PARTIAL
    summary = outcome_summary(host, outcome)
    Recovery.objects.filter(pk=recovery.pk).update(result=outcome)
    alerts.raise_alert(host, Alert.Event.HA_RESTARTED, summary[:300],
                       {**recovery.evidence, "fence": fence_evidence(attempt), "recovery": outcome})
    _finish(recovery, state, recorder, summary)
    return {"host": host.hostname, "fence_attempt": attempt.pk, **outcome}


def looks_failed(host):
    """Failed in the inventory, or failing (suspect or failed) its health checks."""
    host.refresh_from_db(fields=["status"])
    return host.status == HostStatus.FAILED or HostHealth.objects.filter(
        host=host, state__in=[HealthState.FAILED, HealthState.SUSPECT]).exists()


def still_failed(host):
    return HostHealth.objects.filter(host=host, state=HealthState.FAILED).exists()


def _finish(recovery, state, recorder, summary, raise_=False):
    Recovery.objects.filter(pk=recovery.pk).update(state=state, summary=summary[:500], finished_at=timezone.now())
    kind = JournalEntry.Kind.SYSTEM if state == Recovery.State.SUCCEEDED else JournalEntry.Kind.INCIDENT
    add_journal_entry(recovery.host, f"Recovery: {summary}", kind=kind)
    recorder.log(summary)
    if raise_:
        raise RecoveryRefused(summary)
    return None


def outcome_summary(host, outcome):
    parts = [f"{host.hostname} fenced; restarted {len(outcome['restarted'])} HA VMs"
             + (": " + ", ".join(f"{r['vm']} on {r['on']}" for r in outcome["restarted"]) if outcome["restarted"]
                else "")]
    if outcome["failed"]:
        parts.append("FAILED to restart: " + "; ".join(f"{f['vm']} on {f['target']} ({f['reason']})"
                                                       for f in outcome["failed"]))
    if outcome["unplaced"]:
        parts.append("could not place: " + "; ".join(f"{u['vm']} ({u['reason']})" for u in outcome["unplaced"]))
    if outcome["left_off"]:
        parts.append(f"not HA, left off: {', '.join(outcome['left_off'])}")
    return ". ".join(parts) + "."


def fence_evidence(attempt: FenceAttempt):
    return {"attempt": attempt.pk, "agent": attempt.agent, "outcome": attempt.outcome,
            "power_state": attempt.power_state, "read_back": attempt.evidence.get("read_back", {}),
            "at": (attempt.finished_at or attempt.started_at).isoformat()}


def evidence_line(evidence):
    checks = evidence.get("checks", [])
    failed = sorted({c["check"] for c in checks if not c.get("ok")})
    return (f"Evidence: {evidence.get('failed_rounds', '?')} failed rounds "
            f"(threshold {evidence.get('threshold', '?')}), "
            f"failing checks: {', '.join(failed) or 'none recorded'}"
            + (f"; last: {checks[0]['check']} at {checks[0]['at']}: {checks[0]['message']}" if checks else ""))
