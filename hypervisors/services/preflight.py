"""Checks made when an action is asked for, before its job is queued.

What a job would refuse anyway (wrong state, a target that cannot take the VM, no room,
another job already working on the VM) is refused at once, with a reason an operator
can act on. The jobs check again when they run: things change in between.
"""

import os
import posixpath

from django.conf import settings
from django.core.exceptions import ValidationError

from core.models import Job
from inventory.models import HostStatus, check_transition
from inventory.services import free_names
from inventory.validators import validate_dns_label

from ..models import Hypervisor, VirtualMachine
from ..placement import SPREAD, Demand, plan_placement
from .actions import POWER_ACTIONS
from .capacity import candidates_for, capacities, demand_of
from .kinds import EVACUATE
from .locks import VMBusy
from .maintenance import evacuation_plan
from .migration import MigrationRefused, check_local_disk_copy, check_migration

ACTIVE_STATES = {
    VirtualMachine.State.RUNNING, VirtualMachine.State.PAUSED, VirtualMachine.State.BLOCKED,
    VirtualMachine.State.SHUTDOWN, VirtualMachine.State.PMSUSPENDED,
}
# Only these states may be powered off; a VM paused, blocked or already shutting down does not
# process a guest shutdown or reboot request, so force-off is all that applies to it.
FORCE_OFF_ONLY = {VirtualMachine.State.PAUSED, VirtualMachine.State.BLOCKED, VirtualMachine.State.SHUTDOWN,
                  VirtualMachine.State.PMSUSPENDED}
# Statuses from which a hypervisor may be (re-)emptied; the lifecycle allows maintenance from these.
EVACUABLE = (HostStatus.ACTIVE, HostStatus.SPARE, HostStatus.MAINTENANCE)
# Where new VM disks may be created besides a hypervisor's declared shared storage.
DEFAULT_STORAGE_DIRS = "/var/lib/libvirt/images"


class Refused(Exception):
    """The action cannot be done as things stand; nothing was queued. `field` names
    the input the refusal is about (for forms and API field errors)."""

    def __init__(self, message, field="non_field_errors"):
        super().__init__(message)
        self.field = field


# ----- jobs already at work --------------------------------------------------------
def unfinished_job(target, kind=None):
    """The oldest queued or running job working on `target`, or None."""
    jobs = Job.objects.for_target(target).unfinished()
    if kind:
        jobs = jobs.filter(kind=kind)
    return jobs.order_by("created_at", "id").first()


def check_not_busy(vm):
    """Refuse while another job holds the VM or is queued for it: never two at once."""
    holder = vm.busy_job if vm.busy_job_id and not vm.busy_job.is_finished else unfinished_job(vm)
    if holder is not None:
        raise VMBusy(f"{vm.name} is already being changed by job #{holder.pk} ({holder.title}); "
                     "wait for it or cancel it")


def check_known(vm):
    if vm.hypervisor_id is None or vm.state == VirtualMachine.State.GONE:
        raise Refused(f"{vm.name} is gone from libvirt (stale record); nothing to act on")
    if vm.state == VirtualMachine.State.UNKNOWN:
        raise Refused(f"The state of {vm.name} is unknown (is {vm.hypervisor.name} reachable?); sync it first")


# ----- VM actions --------------------------------------------------------------------
def allowed_power_actions(vm):
    """The power actions that apply to the VM as last seen (the console shows these buttons)."""
    if vm.hypervisor_id is None or vm.state in (VirtualMachine.State.GONE, VirtualMachine.State.UNKNOWN):
        return []
    if vm.state == VirtualMachine.State.RUNNING:
        return ["shutdown", "reboot", "force-off"]
    if vm.state in FORCE_OFF_ONLY:
        return ["force-off"]
    return ["start"]


def check_power(vm, action):
    check_known(vm)
    if action not in POWER_ACTIONS:
        raise Refused(f"Unknown action {action!r}; one of {', '.join(POWER_ACTIONS)}", field="action")
    if action not in allowed_power_actions(vm):
        if action == "start":
            raise Refused(f"{vm.name} is already {vm.state}", field="action")
        if vm.state not in ACTIVE_STATES:
            raise Refused(f"{vm.name} is {vm.state}; {action} needs a running VM", field="action")
        raise Refused(f"{vm.name} is {vm.state}: it cannot act on a {action} request; force-off applies",
                      field="action")
    check_not_busy(vm)


def check_resize(vm, vcpus, memory_mib):
    check_known(vm)
    if vm.state != VirtualMachine.State.SHUTOFF:
        raise Refused(f"{vm.name} is {vm.state}; shut it down to change its size")
    growth = Demand(key=vm.pk, vcpus=max(0, vcpus - vm.vcpus), memory_mib=max(0, memory_mib - vm.memory_mib))
    _check_fits(growth, vm.hypervisor, f"{vm.hypervisor.name} has no room to grow {vm.name}")
    check_not_busy(vm)


def check_delete(vm, confirm):
    check_known(vm)
    if confirm != vm.name:
        raise Refused(f"Deleting is final: confirm with the VM's name ({vm.name})", field="confirm")
    check_not_busy(vm)


def plan_migration(vm, target=None, live=None, policy=SPREAD):
    """(target, live) for moving `vm`: the given target checked, or the one the placement
    planner chooses. Live by default for a running VM, cold for a shut-off one."""
    check_known(vm)
    live = vm.state == VirtualMachine.State.RUNNING if live is None else live
    if target is None:
        plan = plan_placement([demand_of(vm)], candidates_for(vm.hypervisor), policy)
        if vm.pk in plan.unplaced:
            raise Refused(f"No hypervisor can take {vm.name}: {plan.unplaced[vm.pk]}", field="target")
        target = Hypervisor.objects.select_related("host").get(pk=plan.assignments[vm.pk])
    try:
        check_migration(vm, target, live=live)
    except MigrationRefused as exc:
        raise Refused(str(exc), field="target") from exc
    if target.connection == Hypervisor.Connection.UNREACHABLE:
        raise Refused(f"{target.name} is unreachable ({target.last_error or 'no answer'})", field="target")
    if not live:
        try:
            check_local_disk_copy(vm, target)
        except MigrationRefused as exc:
            raise Refused(str(exc), field="target") from exc
    _check_fits(demand_of(vm), target, f"{target.name} cannot take {vm.name}", field="target")
    check_not_busy(vm)
    return target, live


def next_vm_name(role):
    """The first name of the role's naming scheme that neither a host nor a VM uses."""
    if role is None:
        return None
    taken = set(VirtualMachine.objects.exclude(state=VirtualMachine.State.GONE).values_list("name", flat=True))
    return next((name for name in free_names(role) if name not in taken), None)


def storage_roots(hypervisor):
    """The directories new disks may be created in on `hypervisor`: its declared shared storage
    and the installation's VM storage directories (OPSCONSOLE_VM_STORAGE_DIRS, comma-separated)."""
    configured = getattr(settings, "OPSCONSOLE_VM_STORAGE_DIRS", None) or os.environ.get(
        "OPSCONSOLE_VM_STORAGE_DIRS", DEFAULT_STORAGE_DIRS)
    roots = [configured] if isinstance(configured, str) else list(configured)
    roots = [root.strip().rstrip("/") for entry in roots for root in entry.split(",") if root.strip()]
    if hypervisor.shared_storage_path:
        roots.insert(0, hypervisor.shared_storage_path.rstrip("/"))
    return roots


def check_storage_dir(hypervisor, path):
    """A disk directory is one of the hypervisor's storage roots or below one: libvirt creates a
    storage pool there, which must never be a directory of the operator's choosing."""
    clean = posixpath.normpath(path) if path else ""
    if not path.startswith("/") or clean != path.rstrip("/") or "//" in path:
        raise Refused("Give an absolute path without '..', e.g. /var/lib/libvirt/images", field="storage_dir")
    roots = storage_roots(hypervisor)
    if not any(clean == root or clean.startswith(root + "/") for root in roots):
        raise Refused(f"{path} is not storage of {hypervisor.name}: disks go under "
                      + " or ".join(roots), field="storage_dir")
    return clean


def prepare_create(hypervisor, vcpus, memory_mib, name=None, role=None, disk_gib=0, storage_dir=None):
    """The name the new VM gets, once the hypervisor is known to take it."""
    if not hypervisor.enabled:
        raise Refused(f"{hypervisor.name} is disabled", field="hypervisor")
    if hypervisor.connection == Hypervisor.Connection.UNREACHABLE:
        raise Refused(f"{hypervisor.name} is unreachable ({hypervisor.last_error or 'no answer'})",
                      field="hypervisor")
    if hypervisor.host.status not in (HostStatus.ACTIVE, HostStatus.SPARE):
        raise Refused(f"{hypervisor.name} is {hypervisor.host.status}; only active or spare hypervisors take VMs",
                      field="hypervisor")
    if disk_gib and not storage_dir:
        raise Refused("A disk needs the directory it is created in", field="storage_dir")
    if storage_dir:
        check_storage_dir(hypervisor, storage_dir)
    if name:
        try:
            validate_dns_label(name)
        except ValidationError as exc:
            raise Refused(" ".join(exc.messages), field="name") from exc
    if not name:
        name = next_vm_name(role)
        if not name:
            raise Refused("No name given and the role's naming scheme has no free name left"
                          if role else "Give a name, or a role whose naming scheme names the VM", field="name")
    elif VirtualMachine.objects.filter(name=name).exclude(state=VirtualMachine.State.GONE).exists():
        raise Refused(f"A VM named {name} already exists", field="name")
    _check_fits(Demand(key=name, vcpus=vcpus, memory_mib=memory_mib), hypervisor,
                f"{hypervisor.name} cannot take {name}", field="hypervisor")
    return name


def _check_fits(demand, hypervisor, context, field="non_field_errors"):
    plan = plan_placement([demand], capacities(Hypervisor.objects.filter(pk=hypervisor.pk)))
    if demand.key in plan.unplaced:
        raise Refused(f"{context}: {plan.unplaced[demand.key]}", field=field)


# ----- hypervisors --------------------------------------------------------------------
def check_evacuation(hypervisor, policy=SPREAD):
    """The evacuation plan, provided it moves every VM and the host may enter maintenance."""
    running = unfinished_job(hypervisor, EVACUATE)
    if running:
        raise Refused(f"{hypervisor.name} is already being evacuated by job #{running.pk}; wait for it or cancel it")
    if hypervisor.host.status != HostStatus.MAINTENANCE:
        try:
            check_transition(hypervisor.host.status, HostStatus.MAINTENANCE)
        except ValidationError as exc:
            raise Refused(" ".join(exc.messages)) from exc
    if hypervisor.host.status not in EVACUABLE:
        raise Refused(f"{hypervisor.name} is {hypervisor.host.get_status_display().lower()}; only an active, spare "
                      "or maintenance host can be emptied")
    plan = evacuation_plan(hypervisor, policy)
    if plan["unplaced"]:
        reasons = "; ".join(f"{u['vm']}: {u['reason']}" for u in plan["unplaced"])
        raise Refused(f"Cannot empty {hypervisor.name}: {reasons}")
    return plan


def check_leave_maintenance(hypervisor):
    if hypervisor.host.status != HostStatus.MAINTENANCE:
        raise Refused(f"{hypervisor.name} is {hypervisor.host.status}, not in maintenance")
    running = unfinished_job(hypervisor, EVACUATE)
    if running:
        raise Refused(f"{hypervisor.name} is being evacuated by job #{running.pk}; cancel it first")
