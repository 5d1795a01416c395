"""One job at a time per VM: a compare-and-set on VirtualMachine.busy_job."""

from contextlib import contextmanager

from django.db.models import Q

from core.models import Job

from ..models import VirtualMachine


class VMBusy(Exception):
    pass


@contextmanager
def vm_lock(vm, job):
    """Hold the VM for `job`. A lock left by a job that has finished (a killed worker)
    is taken over; a lock held by a live job refuses with the job's number."""
    free = Q(busy_job__isnull=True) | Q(busy_job__state__in=Job.FINISHED_STATES) | Q(busy_job=job)
    taken = VirtualMachine.objects.filter(free, pk=vm.pk).update(busy_job=job)
    if not taken:
        holder = VirtualMachine.objects.filter(pk=vm.pk).values_list("busy_job", flat=True).first()
        raise VMBusy(f"{vm.name} is already being changed by job #{holder}; wait for it or cancel it")
    try:
        yield
    finally:
        VirtualMachine.objects.filter(pk=vm.pk, busy_job=job).update(busy_job=None)
