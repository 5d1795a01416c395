"""Thin Celery wrappers: load ids from the Job, call one service, return its result."""

from celery import shared_task

from core.actions import SYSTEM
from core.jobs import job_task
from inventory.models import Role

from .models import Hypervisor, VirtualMachine
from .services import actions, kinds, maintenance, migration, operations, sync


def _vm(job):
    return VirtualMachine.objects.select_related("hypervisor__host").get(pk=job.params["vm_id"])


def _hypervisor(job, key="hypervisor_id"):
    return Hypervisor.objects.select_related("host").get(pk=job.params[key])


@job_task(kinds.SYNC)
def sync_job(job, recorder):
    if job.params.get("hypervisor_id"):
        return sync.sync_hypervisor(_hypervisor(job), recorder)
    return sync.sync_all(recorder)


@shared_task(name="hypervisors.scheduled_sync")
def scheduled_sync():
    """Beat entry point: a sync job like the one the console starts."""
    return operations.request_sync(user=SYSTEM).pk


@job_task(kinds.POWER)
def power_job(job, recorder):
    return actions.power_action(_vm(job), job.params["action"], job, recorder,
                                shutdown_timeout=job.params.get("timeout", 120))


@job_task(kinds.RESIZE)
def resize_job(job, recorder):
    return actions.set_resources(_vm(job), job.params["vcpus"], job.params["memory_mib"], job, recorder)


@job_task(kinds.DELETE_VM)
def delete_vm_job(job, recorder):
    return actions.delete_vm(_vm(job), job, recorder, delete_disks=job.params.get("delete_disks", False))


@job_task(kinds.CREATE_VM)
def create_vm_job(job, recorder):
    role = Role.objects.filter(pk=job.params.get("role_id")).first()
    return actions.create_vm(
        _hypervisor(job), job, recorder, vcpus=job.params["vcpus"], memory_mib=job.params["memory_mib"],
        name=job.params.get("name") or None, role=role, disk_gib=job.params.get("disk_gib", 0),
        storage_dir=job.params.get("storage_dir"), start=job.params.get("start", True),
    )


@job_task(kinds.LIVE_MIGRATE)
def live_migrate_job(job, recorder):
    options = migration.MigrationOptions(
        auto_converge=job.params.get("auto_converge", False),
        bandwidth_mib_s=job.params.get("bandwidth_mib_s", 0),
        time_limit_s=job.params.get("time_limit_s", 600),
    )
    return migration.live_migrate(_vm(job), _hypervisor(job, "target_id"), job, recorder, options)


@job_task(kinds.COLD_MIGRATE)
def cold_migrate_job(job, recorder):
    return migration.cold_migrate(_vm(job), _hypervisor(job, "target_id"), job, recorder)


@job_task(kinds.EVACUATE)
def evacuate_job(job, recorder):
    return maintenance.enter_maintenance(
        _hypervisor(job), job, recorder, user=job.created_by, parallel=job.params.get("parallel", 2),
        policy=job.params.get("policy", "spread"),
    )
