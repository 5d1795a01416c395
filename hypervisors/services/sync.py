"""Reconcile the database with what libvirt reports. libvirt is the truth."""

import logging

from django.db import transaction
from django.utils import timezone

from ..drivers import libvirt_driver as driver
from ..models import Hypervisor, VirtualMachine
from .leftovers import is_leftover, remove_leftovers

logger = logging.getLogger(__name__)

SYNCED_FIELDS = ["name", "hypervisor", "state", "vcpus", "memory_mib", "disks", "nics", "autostart", "persistent",
                 "state_changed_at"]


def sync_hypervisor(hypervisor: Hypervisor, recorder=None):
    """Read every domain of one hypervisor and reconcile: new, gone, changed, moved here.
    An unreachable hypervisor marks its VMs unknown rather than deleting anything."""
    now = timezone.now()
    try:
        conn = driver.connect(hypervisor.uri)
        node = driver.node_facts(conn)
        domains = driver.list_domains(conn)
    except (driver.HypervisorUnreachable, driver.libvirt.libvirtError) as exc:
        driver.forget(hypervisor.uri)
        mark_unreachable(hypervisor, str(exc))
        if recorder:
            recorder.log(f"{hypervisor.name}: unreachable: {exc}")
        return {"hypervisor": hypervisor.name, "reachable": False, "error": str(exc)}

    Hypervisor.objects.filter(pk=hypervisor.pk).update(
        connection=Hypervisor.Connection.CONNECTED, last_seen=now, last_error="",
        libvirt_hostname=node.hostname, cpus=node.cpus, memory_mib=node.memory_mib,
        libvirt_version=node.libvirt_version,
    )
    counts = reconcile(hypervisor, domains, now)
    leftovers = counts.pop("leftovers")
    counts["stale_removed"] = remove_leftovers(hypervisor, conn, leftovers, recorder) if leftovers else 0
    if recorder:
        recorder.log(f"{hypervisor.name}: {len(domains)} domains; " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return {"hypervisor": hypervisor.name, "reachable": True, "domains": len(domains), **counts}


@transaction.atomic
def reconcile(hypervisor, domains, now):
    """Apply one hypervisor's domain list in a fixed number of queries, whatever its size.
    Only rows that really changed are rewritten; last_seen is stamped in one statement.
    A domain shut off here whose VM runs on another hypervisor is a leftover (returned
    under "leftovers", the record stays where the VM runs), not a move."""
    seen = {d.uuid: d for d in domains}
    known = {str(vm.uuid): vm for vm in VirtualMachine.objects.select_for_update().filter(uuid__in=list(seen))}
    created, changed, moved, leftovers = [], [], 0, []
    for uuid, facts in seen.items():
        vm = known.get(uuid)
        fields = _facts_fields(facts)
        if vm is None:
            created.append(VirtualMachine(uuid=uuid, hypervisor=hypervisor, last_seen=now, state_changed_at=now,
                                          **fields))
            continue
        if is_leftover(vm, facts, hypervisor):
            leftovers.append(facts)
            continue
        is_move = vm.hypervisor_id != hypervisor.pk
        differs = {name: value for name, value in fields.items() if getattr(vm, name) != value}
        if not (is_move or differs):
            continue
        moved += is_move
        if "state" in differs:
            vm.state_changed_at = now
        vm.hypervisor = hypervisor
        for name, value in differs.items():
            setattr(vm, name, value)
        changed.append(vm)
    VirtualMachine.objects.bulk_create(created, batch_size=500)
    VirtualMachine.objects.bulk_update(changed, SYNCED_FIELDS, batch_size=500)
    VirtualMachine.objects.filter(hypervisor=hypervisor, uuid__in=list(seen)).update(last_seen=now)
    # (A leftover's VM is recorded elsewhere, so the "gone" query below never touches it.)
    gone = (
        VirtualMachine.objects.filter(hypervisor=hypervisor)
        .exclude(uuid__in=list(seen))
        .exclude(state=VirtualMachine.State.GONE)
        .update(state=VirtualMachine.State.GONE, state_changed_at=now)
    )
    return {"new": len(created), "updated": len(changed) - moved, "moved_here": moved, "gone": gone,
            "unchanged": len(seen) - len(created) - len(changed) - len(leftovers), "leftovers": leftovers}


def _facts_fields(facts):
    return {
        "name": facts.name, "state": facts.state, "vcpus": facts.vcpus, "memory_mib": facts.memory_mib,
        "disks": facts.disks, "nics": facts.nics, "autostart": facts.autostart, "persistent": facts.persistent,
    }


def mark_unreachable(hypervisor, error):
    Hypervisor.objects.filter(pk=hypervisor.pk).update(
        connection=Hypervisor.Connection.UNREACHABLE, last_error=error[:500]
    )
    VirtualMachine.objects.filter(hypervisor=hypervisor).exclude(
        state__in=[VirtualMachine.State.GONE, VirtualMachine.State.UNKNOWN]
    ).update(state=VirtualMachine.State.UNKNOWN, state_changed_at=timezone.now())


def sync_all(recorder=None):
    hypervisors = list(Hypervisor.objects.filter(enabled=True).select_related("host"))
    results = []
    for index, hypervisor in enumerate(hypervisors, start=1):
        results.append(sync_hypervisor(hypervisor, recorder))
        if recorder:
            recorder.progress(100 * index // max(len(hypervisors), 1), f"Synced {hypervisor.name}")
    return {"hypervisors": results}


def apply_domain_event(hypervisor_id, uuid, state):
    """A libvirt lifecycle event: update the one VM's state without waiting for a sweep.
    Returns False when the VM is unknown here (the caller then syncs the hypervisor)."""
    now = timezone.now()
    updated = VirtualMachine.objects.filter(uuid=uuid).update(
        hypervisor_id=hypervisor_id, state=state, last_seen=now, state_changed_at=now
    )
    return bool(updated)
