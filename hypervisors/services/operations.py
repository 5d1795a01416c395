"""What people (and schedules) ask of hypervisors and VMs: one function per action.

Each function is an action of core.actions, so the role it needs is declared here once;
it makes the checks of `preflight` and starts its job. The console's views and forms and
the API's views call these and nothing else; the forms run the same checks in `clean()`
so a refusal shows on the field it is about.
"""

from collections import namedtuple

from django.db import transaction

from core.actions import action
from core.jobs import start
from core.roles import Role

from ..models import VirtualMachine
from ..placement import SPREAD
from . import kinds, maintenance, preflight, records

LIVE_OPTIONS = ("auto_converge", "bandwidth_mib_s", "time_limit_s")
POWER_TITLES = {"start": "Start", "shutdown": "Shut down", "reboot": "Reboot", "force-off": "Force off"}

Migration = namedtuple("Migration", "job target live")
Evacuation = namedtuple("Evacuation", "job plan")


def _locked(vm):
    """The VM's row, locked until the transaction ends, so two requests never both pass the
    busy check (PostgreSQL; SQLite serialises writers anyway)."""
    return VirtualMachine.objects.select_for_update(of=("self",)).select_related(
        "hypervisor__host", "busy_job").get(pk=vm.pk)


@action(Role.OPERATOR, "syncing hypervisors")
def request_sync(*, user, hypervisor=None):
    if hypervisor is None:
        return start(kinds.SYNC, "Sync all hypervisors", user=user, params={})
    return start(kinds.SYNC, f"Sync {hypervisor.name}", user=user, params={"hypervisor_id": hypervisor.pk},
                 target=hypervisor)


@action(Role.OPERATOR, "powering a VM on or off")
def request_power(vm, power_action, *, user, timeout=120):
    with transaction.atomic():
        vm = _locked(vm)
        preflight.check_power(vm, power_action)
        params = {"vm_id": vm.pk, "action": power_action}
        if power_action == "shutdown":
            params["timeout"] = timeout
        return start(kinds.POWER, f"{POWER_TITLES[power_action]} {vm.name}", user=user, params=params, target=vm)


@action(Role.OPERATOR, "resizing a VM")
def request_resize(vm, vcpus, memory_mib, *, user):
    with transaction.atomic():
        vm = _locked(vm)
        preflight.check_resize(vm, vcpus, memory_mib)
        return start(kinds.RESIZE, f"Resize {vm.name} to {vcpus} vCPU, {memory_mib} MiB", user=user,
                     params={"vm_id": vm.pk, "vcpus": vcpus, "memory_mib": memory_mib}, target=vm)


@action(Role.ADMIN, "deleting a VM")
def request_delete(vm, confirm, *, user, delete_disks=False):
    with transaction.atomic():
        vm = _locked(vm)
        preflight.check_delete(vm, confirm)
        return start(kinds.DELETE_VM, f"Delete {vm.name}" + (" and its disks" if delete_disks else ""), user=user,
                     params={"vm_id": vm.pk, "delete_disks": delete_disks}, target=vm)


@action(Role.OPERATOR, "migrating a VM")
def request_migration(vm, *, user, target=None, live=None, policy=SPREAD, options=None):
    """Move the VM to `target`, or where the placement planner puts it: live for a running VM
    (`options`: auto_converge, bandwidth_mib_s, time_limit_s), cold for a shut-off one."""
    with transaction.atomic():
        vm = _locked(vm)
        target, live = preflight.plan_migration(vm, target, live, policy)
        params = {"vm_id": vm.pk, "target_id": target.pk}
        if live:
            params.update({key: value for key, value in (options or {}).items() if key in LIVE_OPTIONS})
        kind, verb = (kinds.LIVE_MIGRATE, "Live-migrate") if live else (kinds.COLD_MIGRATE, "Cold-migrate")
        job = start(kind, f"{verb} {vm.name} to {target.name}", user=user, params=params, target=vm)
    return Migration(job, target, live)


@action(Role.OPERATOR, "creating a VM")
def request_create(hypervisor, *, user, vcpus, memory_mib, name=None, role=None, disk_gib=0, storage_dir=None,
                   start_vm=True):
    """Define (and start) a VM on the hypervisor; unnamed, it takes the role's next free name."""
    name = preflight.prepare_create(hypervisor, vcpus, memory_mib, name, role, disk_gib, storage_dir)
    params = {"hypervisor_id": hypervisor.pk, "role_id": role.pk if role else None, "name": name, "vcpus": vcpus,
              "memory_mib": memory_mib, "disk_gib": disk_gib, "storage_dir": storage_dir or None, "start": start_vm}
    return start(kinds.CREATE_VM, f"Create {name} on {hypervisor.name}", user=user, params=params,
                 target=hypervisor)


@action(Role.OPERATOR, "emptying a hypervisor for maintenance")
def request_evacuation(hypervisor, *, user, policy=SPREAD, parallel=2):
    """Put the host in maintenance and live-migrate its VMs away; refused when the plan
    cannot place every VM or an evacuation is already going."""
    plan = preflight.check_evacuation(hypervisor, policy)
    job = start(kinds.EVACUATE, f"Evacuate {hypervisor.name} for maintenance", user=user, target=hypervisor,
                params={"hypervisor_id": hypervisor.pk, "policy": policy, "parallel": parallel})
    return Evacuation(job, plan)


@action(Role.OPERATOR, "taking a hypervisor out of maintenance")
def end_maintenance(hypervisor, *, user):
    preflight.check_leave_maintenance(hypervisor)
    maintenance.leave_maintenance(hypervisor, user=user)


@action(Role.OPERATOR, "forgetting a VM's record")
def forget_vm(vm, confirm, *, user):
    """Instant, no job: remove the record of a VM the sync found gone from libvirt."""
    return records.forget_stale_vm(vm, confirm, user=user)
