"""Operations on our records of VMs that do not touch libvirt."""

from django.db import transaction

from core.audit import acting_as

from ..models import VirtualMachine
from .preflight import Refused, check_not_busy


def check_forget(vm, confirm):
    """Only a VM the sync found gone from libvirt may be forgotten, and only on purpose."""
    if vm.state == VirtualMachine.State.UNKNOWN:
        raise Refused(f"{vm.name} is not known to be gone: its hypervisor did not answer, so it may still exist. "
                      "Sync it first; only a VM libvirt no longer has can be forgotten")
    if vm.state != VirtualMachine.State.GONE:
        raise Refused(f"{vm.name} is {vm.get_state_display().lower()} in libvirt, not stale: it cannot be forgotten "
                      "(delete it to remove it from libvirt)")
    if confirm != vm.name:
        raise Refused(f"Forgetting is final: confirm with the VM's name ({vm.name})", field="confirm")
    check_not_busy(vm)


def forget_stale_vm(vm, confirm, user=None):
    """Remove the record of a VM libvirt no longer has; the change log keeps who did it.
    The delete is conditional, so a VM a sync brought back meanwhile stays."""
    check_forget(vm, confirm)
    with acting_as(user), transaction.atomic():
        deleted, _ = VirtualMachine.objects.filter(pk=vm.pk, state=VirtualMachine.State.GONE).delete()
    if not deleted:
        raise Refused(f"{vm.name} changed meanwhile (a sync found it again?); nothing was forgotten")
    return vm.name
