"""Stale copies of a VM's definition on a hypervisor that came back.

After an HA restart the dead hypervisor still holds each restarted VM's persistent
definition; when it is powered on again libvirt there lists the VM as shut off while
the VM runs on its new host. Sync leaves our record where the VM runs (sync.reconcile
calls such a domain a leftover) and removes the stale definition here, but only after
asking libvirt on the VM's recorded hypervisor that the VM really runs there as a
persistent domain. Only the definition goes: its disks are the running copy's disks.
"""

import logging

from inventory.models import JournalEntry
from inventory.services import add_journal_entry

from ..drivers import libvirt_driver as driver
from ..drivers.libvirt_driver import libvirt
from ..models import VirtualMachine

logger = logging.getLogger(__name__)

# Snapshot metadata and a managed save belong to this copy of the definition. Without an
# NVRAM flag libvirt refuses a UEFI guest's definition: kept, and said so, rather than guessed.
UNDEFINE_FLAGS = libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
# Inactive here while the record says it runs elsewhere: a leftover, not a move.
INACTIVE = (VirtualMachine.State.SHUTOFF, VirtualMachine.State.CRASHED)


def is_leftover(vm, facts, hypervisor):
    return (vm.hypervisor_id not in (None, hypervisor.pk) and vm.state == VirtualMachine.State.RUNNING
            and facts.state in INACTIVE)


def runs_persistently_on(hypervisor, uuid):
    """Whether libvirt on `hypervisor` says the domain runs there and is defined there."""
    try:
        dom = driver.lookup(driver.connect(hypervisor.uri), uuid)
        return dom is not None and bool(dom.isActive()) and bool(dom.isPersistent())
    except (driver.HypervisorUnreachable, libvirt.libvirtError):
        return False


def remove_leftovers(hypervisor, conn, leftovers, recorder=None):
    """Undefine each leftover domain (DomainFacts) whose VM is confirmed running elsewhere;
    the rest are kept and logged. Returns how many were removed."""
    records = {str(vm.uuid): vm for vm in VirtualMachine.objects.filter(uuid__in=[f.uuid for f in leftovers])
               .select_related("hypervisor__host")}
    removed = 0
    for facts in leftovers:
        vm = records.get(facts.uuid)
        if vm is None or vm.hypervisor is None:
            continue
        where = vm.hypervisor.name
        if not runs_persistently_on(vm.hypervisor, facts.uuid):
            _say(recorder, f"{hypervisor.name}: {facts.name} is shut off here and recorded running on {where}, "
                           f"which does not confirm it: the definition here is kept")
            continue
        try:
            dom = conn.lookupByUUIDString(facts.uuid)
            if dom.isActive():  # started since the listing: not ours to remove
                continue
            dom.undefineFlags(UNDEFINE_FLAGS)
        except libvirt.libvirtError as exc:
            _say(recorder, f"{hypervisor.name}: could not remove the stale definition of {facts.name}: {exc}")
            continue
        removed += 1
        text = (f"Removed the stale definition of {facts.name} from {hypervisor.name}: it was shut off here and "
                f"runs on {where} (left from before an HA restart); its disks were not touched")
        _say(recorder, text)
        add_journal_entry(hypervisor.host, text, kind=JournalEntry.Kind.SYSTEM)
    return removed


def _say(recorder, text):
    logger.info(text)
    if recorder:
        recorder.log(text)
