"""Fencing: make sure a failed host is really off before anything of it runs elsewhere.

Every attempt is a FenceAttempt with who asked, the agent, its transcript and the power
state it READ BACK; only "off" read back counts (or a person's confirmation, with their
name). Each attempt is written to the host's journal and, when run in a job, its log.
"""

from django.utils import timezone

from inventory.models import JournalEntry
from inventory.services import add_journal_entry

from ..drivers import fence_ipmi, fence_lab
from ..drivers.fence_base import OFF, UNKNOWN, FenceResult
from ..models import FenceAgent, FenceAttempt, FenceDevice


def device_of(host):
    return FenceDevice.objects.filter(host=host).first()


def fence_host(host, *, user=None, automatic=False, reason="", evidence=None, job=None, recorder=None):
    """Power the host off with its fence device and read the state back. Returns the
    FenceAttempt; `attempt.fenced` says whether the host may be considered off."""
    device = device_of(host)
    agent = device.agent if device else FenceAgent.MANUAL
    attempt = FenceAttempt.objects.create(host=host, agent=agent, automatic=automatic, requested_by=user,
                                          reason=reason[:300], evidence=evidence or {}, job=job)
    if recorder:
        recorder.log(f"Fencing {host.hostname} with {_agent_label(agent)}")
    result = run_agent(device, host)
    attempt.power_state = result.power_state
    attempt.outcome = FenceAttempt.Outcome.FENCED if result.fenced else FenceAttempt.Outcome.FAILED
    attempt.output = result.transcript
    attempt.evidence = {**attempt.evidence, "read_back": result.detail}
    attempt.finished_at = timezone.now()
    attempt.save(update_fields=["power_state", "outcome", "output", "evidence", "finished_at"])
    text = journal_text(attempt)
    add_journal_entry(host, text, author=user, kind=JournalEntry.Kind.INCIDENT if not result.fenced
                      else JournalEntry.Kind.SYSTEM)
    if recorder:
        for line in text.splitlines():
            recorder.log(line)
    return attempt


def run_agent(device, host) -> FenceResult:
    """The agent's answer; never raises (an agent that cannot run is a failed fence)."""
    if device is None or device.agent == FenceAgent.MANUAL or not device.enabled:
        result = FenceResult(power_state=UNKNOWN)
        why = ("no fence device is configured" if device is None else
               "its fence device is disabled" if not device.enabled else "its fence agent is manual")
        result.step(f"{host.hostname}: {why}; a person must check it is off and press 'Confirm powered off'")
        return result
    if device.agent == FenceAgent.IPMI:
        return fence_ipmi.power_off(device.address, device.username, device.password, device.timeout_seconds)
    return fence_lab.power_off(device.lab_root, device.address or host.hostname, device.timeout_seconds)


def confirm_powered_off(host, user, note="", evidence=None):
    """A person confirmed the host is off (pulled the plug, checked the BMC, the PDU…):
    a manual fence, with their name in the journal."""
    name = user.get_full_name() or user.get_username()
    transcript = f"{timezone.now():%H:%M:%S} confirmed powered off by {name}" + (f": {note}" if note else "")
    attempt = FenceAttempt.objects.create(
        host=host, agent=FenceAgent.MANUAL, outcome=FenceAttempt.Outcome.FENCED, power_state=OFF,
        requested_by=user, reason=(note or "confirmed powered off by a person")[:300], output=transcript,
        evidence={**(evidence or {}), "read_back": {"confirmed_by": name}}, finished_at=timezone.now(),
    )
    add_journal_entry(host, journal_text(attempt), author=user, kind=JournalEntry.Kind.SYSTEM)
    return attempt


def _agent_label(agent):
    return FenceAgent(agent).label


def journal_text(attempt):
    at = (attempt.finished_at or timezone.now()).strftime("%H:%M:%S")
    who = ("auto-recovery" if attempt.automatic else
           (attempt.requested_by.get_username() if attempt.requested_by else "the console"))
    if attempt.fenced:
        head = (f"Fence: {attempt.host.hostname} FENCED at {at} by {_agent_label(attempt.agent)} "
                f"(asked by {who}); power read back: {attempt.power_state}.")
    else:
        head = (f"Fence: {attempt.host.hostname} NOT fenced at {at} by {_agent_label(attempt.agent)} "
                f"(asked by {who}); power read back: {attempt.power_state or 'unknown'}. Its VMs are NOT started "
                "anywhere else until it is fenced or a person confirms it is powered off.")
    return "\n".join([head] + [f"- {line}" for line in attempt.output.splitlines()])
