"""Maintenance mode: empty a hypervisor by live-migrating its VMs away, then leave it
in status maintenance; and bring it back to the status it had before (active or spare)."""

import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections, connection

from core.jobs import create_job, run_job
from core.models import Job
from inventory.models import HostStatus
from inventory.services import change_status, status_to_return_to

from ..models import Hypervisor, VirtualMachine
from ..placement import SPREAD, plan_placement
from . import kinds
from .capacity import candidates_for, demand_of
from .migration import MigrationOptions, live_migrate


def evacuation_plan(hypervisor: Hypervisor, policy=SPREAD):
    """Where each running VM of the hypervisor would go. Touches nothing."""
    vms = list(hypervisor.vms.filter(state=VirtualMachine.State.RUNNING).order_by("name"))
    candidates = candidates_for(hypervisor)
    plan = plan_placement([demand_of(vm) for vm in vms], candidates, policy)
    names = dict(Hypervisor.objects.filter(pk__in=[c.key for c in candidates]).values_list("pk", "host__hostname"))
    return {
        "moves": [
            {"vm_id": vm.pk, "vm": vm.name, "target_id": plan.assignments[vm.pk],
             "target": names[plan.assignments[vm.pk]]}
            for vm in vms if vm.pk in plan.assignments
        ],
        "unplaced": [{"vm_id": vm.pk, "vm": vm.name, "reason": plan.unplaced[vm.pk]} for vm in vms
                     if vm.pk in plan.unplaced],
    }


def enter_maintenance(hypervisor: Hypervisor, job, recorder, user=None, parallel=2, policy=SPREAD):
    """Put the host in maintenance (so nothing new lands on it), then migrate every VM
    away, `parallel` at a time, each as a child job with its own progress."""
    plan = evacuation_plan(hypervisor, policy)
    if plan["unplaced"]:
        reasons = "; ".join(f"{u['vm']}: {u['reason']}" for u in plan["unplaced"])
        raise RuntimeError(f"Cannot empty {hypervisor.name}: {reasons}. Nothing was moved.")
    if hypervisor.host.status != HostStatus.MAINTENANCE:
        change_status(hypervisor.host, HostStatus.MAINTENANCE, user=user, reason=f"evacuation job #{job.pk}")
    recorder.log(f"{hypervisor.name} is in maintenance; moving {len(plan['moves'])} VMs, {parallel} at a time")
    children = [
        create_job(kinds.LIVE_MIGRATE, f"Migrate {m['vm']} to {m['target']}", user=user,
                   params={"vm_id": m["vm_id"], "target_id": m["target_id"]}, parent=job)
        for m in plan["moves"]
    ]
    done = run_children(children, parallel, recorder)
    failed = [c for c in Job.objects.filter(pk__in=[c.pk for c in children]) if c.state != Job.State.SUCCEEDED]
    left = hypervisor.vms.filter(state=VirtualMachine.State.RUNNING).count()
    if failed or left:
        raise RuntimeError(
            f"{hypervisor.name} still runs {left} VMs; {len(failed)} migrations did not succeed: "
            + "; ".join(f"{c.title}: {c.message}" for c in failed)
        )
    recorder.log(f"{hypervisor.name} is empty and in maintenance")
    return {"hypervisor": hypervisor.name, "migrated": done, "plan": plan}


def run_children(children, parallel, recorder, work=None, noun="migrations"):
    """Run child jobs `parallel` at a time with `work(job, recorder)` (a live migration by
    default), the parent's progress counting finished children. Also used by HA restarts."""
    work = work or _migrate_child
    lock = threading.Lock()
    finished = [0]

    def run_one(child):
        close_old_connections()
        try:
            if Job.objects.filter(pk=child.parent_id, cancel_requested=True).exists():
                Job.objects.filter(pk=child.pk).update(state=Job.State.CANCELLED,
                                                       message="Cancelled with its parent job")
                return
            run_job(child.pk, work)
        finally:
            with lock:
                finished[0] += 1
                recorder.progress(100 * finished[0] // max(len(children), 1),
                                  f"{finished[0]} of {len(children)} {noun} finished", check_cancel=False)
            connection.close()

    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="children") as pool:
        list(pool.map(run_one, children))
    return Job.objects.filter(pk__in=[c.pk for c in children], state=Job.State.SUCCEEDED).count()


def _migrate_child(job, recorder):
    vm = VirtualMachine.objects.select_related("hypervisor__host").get(pk=job.params["vm_id"])
    target = Hypervisor.objects.select_related("host").get(pk=job.params["target_id"])
    return live_migrate(vm, target, job, recorder, MigrationOptions())


def leave_maintenance(hypervisor: Hypervisor, user=None):
    """Back to the status the host had before maintenance: a spare stays the spare HA
    restarts use first; an active host is active again."""
    back = status_to_return_to(hypervisor.host)
    return change_status(hypervisor.host, back, user=user, reason=f"left maintenance, {back.label.lower()} again")
