"""Recovery without the lab: what a failure leads to (proposal, automatic job, replacement
of a non-hypervisor), the refusals, and a fence that fails leaving every VM where it was.
The real fence-and-restart runs against the lab in test_lab_failover.py."""

import sys
import types

import pytest
from django.utils import timezone

from core.jobs import run_job
from core.models import Job
from health.models import Alert, FenceAttempt, HostHealth, Recovery, SiteRecoveryPolicy
from health.services import recovery
from health.signals import host_failed
from hypervisors.models import Hypervisor, VirtualMachine
from inventory.models import Host, JournalEntry

EVIDENCE = {"failed_rounds": 3, "threshold": 3, "checks": [
    {"check": "ssh", "ok": False, "alive": False, "message": "timed out", "at": "2026-01-01T10:00:00+00:00"}]}


@pytest.fixture
def estate(site):
    """rhine (failed, running io (HA) and ganymede (not HA)), danube active, thames spare."""
    made = {}
    for name, status in (("rhine", "failed"), ("danube", "active"), ("thames", "spare")):
        host = Host.objects.create(hostname=name, site=site, status=status, cpu_cores=8, memory_mib=4096)
        made[name] = Hypervisor.objects.create(host=host, uri=f"qemu+tcp://{name}.example/system",
                                               shared_storage=True)
    HostHealth.objects.create(host=made["rhine"].host, state="failed", since=timezone.now())
    VirtualMachine.objects.create(uuid="00000000-0000-0000-0000-00000000000a", name="io", hypervisor=made["rhine"],
                                  state="running", vcpus=1, memory_mib=256, ha_enabled=True)
    VirtualMachine.objects.create(uuid="00000000-0000-0000-0000-00000000000b", name="ganymede",
                                  hypervisor=made["rhine"], state="running", vcpus=1, memory_mib=256)
    VirtualMachine.objects.create(uuid="00000000-0000-0000-0000-00000000000c", name="callisto",
                                  hypervisor=made["rhine"], state="running", vcpus=64, memory_mib=256, ha_enabled=True)
    return made


def test_with_auto_recovery_off_a_failed_hypervisor_gets_a_proposal_and_nothing_runs(estate):
    rhine = estate["rhine"].host
    host_failed.send(sender=None, host=rhine, evidence=EVIDENCE)
    proposal = Recovery.objects.get(host=rhine)
    assert proposal.state == "proposed" and proposal.job is None and proposal.evidence == EVIDENCE
    assert proposal.summary.startswith("restart 1 HA VMs (io → thames).")
    assert "Cannot place: callisto (needs 64 vCPUs" in proposal.summary
    entry = JournalEntry.objects.get(host=rhine, text__startswith="Recovery PROPOSED")
    assert "auto-recovery is off at site" in entry.text and "Fence and restart" in entry.text
    assert not FenceAttempt.objects.exists() and not Job.objects.exists()
    host_failed.send(sender=None, host=rhine, evidence=EVIDENCE)  # a second failure: still one open proposal
    assert Recovery.objects.filter(host=rhine).count() == 1


def test_a_failed_host_that_is_not_a_hypervisor_goes_to_the_inventory_replacement_proposal(host, monkeypatch):
    monkeypatch.setitem(sys.modules, "inventory.services.recovery", None)  # an inventory without it
    assert recovery.handle_host_failed(host=host, evidence=EVIDENCE) is None  # nothing, no error
    calls = []
    fake = types.ModuleType("inventory.services.recovery")
    fake.propose_replacement = lambda failed, evidence: calls.append((failed.hostname, evidence)) or "proposed"
    monkeypatch.setitem(sys.modules, "inventory.services.recovery", fake)
    assert recovery.handle_host_failed(host=host, evidence=EVIDENCE) == "proposed"
    assert calls == [(host.hostname, EVIDENCE)] and not Recovery.objects.exists()


def test_with_auto_recovery_on_a_fence_that_fails_restarts_nothing_and_says_so(estate,
                                                                             django_capture_on_commit_callbacks):
    rhine = estate["rhine"].host
    SiteRecoveryPolicy.objects.create(site=rhine.site, auto_recover=True)
    with django_capture_on_commit_callbacks(execute=False) as sent:
        host_failed.send(sender=None, host=rhine, evidence=EVIDENCE)
    running = Recovery.objects.get(host=rhine)
    assert running.state == "running" and running.automatic and len(sent) == 1  # the job's task, once committed

    run_job(running.job_id, recovery.run_recovery)  # no fence device: nobody can say it is off

    running.refresh_from_db()
    job = Job.objects.get(pk=running.job_id)
    assert running.state == "fence_failed" and job.state == "failed"
    assert "no VM was restarted anywhere" in job.message
    assert "Evidence: 3 failed rounds (threshold 3), failing checks: ssh; last: ssh at" in job.log
    assert running.fence_attempt.outcome == "failed" and running.fence_attempt.automatic
    assert set(VirtualMachine.objects.values_list("name", "hypervisor__host__hostname", "state")) == {
        ("io", "rhine", "running"), ("ganymede", "rhine", "running"), ("callisto", "rhine", "running")}
    assert Alert.objects.get(host=rhine, event="fence_failed").payload["evidence"]["fence"]["power_state"] == "unknown"
    assert JournalEntry.objects.filter(host=rhine, kind="incident",
                                       text__startswith="Recovery: Fence of rhine failed").exists()


def test_recovery_is_refused_for_a_live_host_and_while_one_runs(estate, operator, django_capture_on_commit_callbacks):
    danube = estate["danube"].host
    with pytest.raises(recovery.RecoveryRefused, match="danube is not failed"):
        recovery.start_recovery(danube, user=operator)
    rhine = estate["rhine"].host
    with django_capture_on_commit_callbacks(execute=False):
        started = recovery.start_recovery(rhine, user=operator, confirmed_off=True, note="PDU off")
    assert started.fence_attempt.agent == "manual" and started.fence_attempt.requested_by == operator
    with pytest.raises(recovery.RecoveryRefused, match="already running"):
        recovery.start_recovery(rhine, user=operator)
    assert Recovery.objects.filter(host=rhine).count() == 1


def test_a_proposal_can_be_dismissed_once(estate, operator):
    rhine = estate["rhine"].host
    proposal = recovery.propose_recovery(estate["rhine"], EVIDENCE)
    recovery.dismiss(proposal, operator)
    assert Recovery.objects.get(pk=proposal.pk).state == "dismissed"
    with pytest.raises(recovery.RecoveryRefused):
        recovery.dismiss(Recovery.objects.get(pk=proposal.pk), operator)
    assert JournalEntry.objects.filter(host=rhine, text__contains="dismissed by").exists()


def test_a_recovery_whose_job_died_is_superseded_and_a_cancelled_one_does_not_stay_running(
        estate, operator, django_capture_on_commit_callbacks):
    rhine = estate["rhine"].host
    with django_capture_on_commit_callbacks(execute=False):
        first = recovery.start_recovery(rhine, user=operator)
    Job.objects.filter(pk=first.job_id).update(state="failed", finished_at=timezone.now())  # a killed worker
    with django_capture_on_commit_callbacks(execute=False):
        second = recovery.start_recovery(rhine, user=operator)
    assert second.pk != first.pk and Recovery.objects.get(pk=first.pk).state == "failed"

    Job.objects.filter(pk=second.job_id).update(cancel_requested=True)
    run_job(second.job_id, recovery.run_recovery)
    assert Job.objects.get(pk=second.job_id).state == "cancelled"
    stopped = Recovery.objects.get(pk=second.pk)
    assert stopped.state == "failed" and stopped.summary == "Stopped: cancelled by an operator"
    assert not FenceAttempt.objects.filter(host=rhine).exists()  # cancelled before the fence


def test_ha_vms_that_cannot_be_placed_are_listed_with_the_reason_and_recorded_off(estate):
    from core.jobs import create_job
    from hypervisors.services import ha_restart

    Hypervisor.objects.filter(host__hostname__in=["danube", "thames"]).update(enabled=False)
    job = create_job("health.recover", "test")
    run_job(job.pk, lambda j, rec: ha_restart.restart_ha_vms(estate["rhine"], j, rec))
    job.refresh_from_db()
    assert job.state == "succeeded" and not job.children.exists()
    assert job.result["restarted"] == [] and job.result["left_off"] == ["ganymede"]
    assert {u["vm"]: u["reason"] for u in job.result["unplaced"]} == {
        "callisto": "no candidate hypervisor (enabled, active or spare, same site, not its own)",
        "io": "no candidate hypervisor (enabled, active or spare, same site, not its own)"}
    assert "Cannot place io: no candidate hypervisor" in job.log
    assert set(VirtualMachine.objects.values_list("name", "hypervisor__host__hostname", "state")) == {
        ("io", "rhine", "shutoff"), ("ganymede", "rhine", "shutoff"), ("callisto", "rhine", "shutoff")}
