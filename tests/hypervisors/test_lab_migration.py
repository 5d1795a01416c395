import threading

import libvirt
import pytest

from core.jobs import create_job, run_job
from core.models import Job
from hypervisors.models import VirtualMachine
from hypervisors.services import migration, sync
from tests.conftest import wait_for
from tests.hypervisors.conftest import start_guest, where_is

pytestmark = pytest.mark.lab


def migrate_as_job(vm, target, options=None):
    job = create_job("hypervisors.live_migrate", f"Migrate {vm.name}")
    run_job(job.pk, lambda j, rec: migration.live_migrate(vm, target, j, rec, options))
    job.refresh_from_db()
    return job


@pytest.mark.django_db(transaction=True)
def test_sync_then_live_migrate_moves_the_guest_for_real(lab_hypervisors):
    rhine, danube = lab_hypervisors["rhine"], lab_hypervisors["danube"]
    guest = start_guest(rhine, "luna")
    sync.sync_all()
    vm = VirtualMachine.objects.get(uuid=guest)
    assert (vm.hypervisor, vm.state, vm.memory_mib) == (rhine, "running", 64)

    job = migrate_as_job(vm, danube)

    assert job.state == Job.State.SUCCEEDED, job.error
    assert where_is(lab_hypervisors, guest) == (["danube"], ["danube"])
    vm.refresh_from_db()
    assert vm.hypervisor == danube and vm.busy_job is None
    assert job.result["to"] == "danube" and job.result["seconds"] > 0
    assert "runs on danube and nowhere else" in job.log


@pytest.mark.django_db(transaction=True)
def test_failed_migration_leaves_the_guest_running_on_its_source(lab_hypervisors, lab):
    rhine, volga = lab_hypervisors["rhine"], lab_hypervisors["volga"]
    guest = start_guest(rhine, "saturn", memory_mib=256)
    sync.sync_all()
    vm = VirtualMachine.objects.get(uuid=guest)
    # A bandwidth limit keeps the migration running long enough to kill the target's libvirtd under it.
    options = migration.MigrationOptions(bandwidth_mib_s=1, time_limit_s=120)
    killer = threading.Thread(target=_kill_when_migrating, args=(lab, "volga", rhine.uri, guest))
    killer.start()
    job = migrate_as_job(vm, volga, options)
    killer.join()
    lab.up(log=lambda line: None)  # bring volga back for the other tests

    assert job.state == Job.State.FAILED
    assert "still running on rhine" in job.message
    running, _defined = where_is(lab_hypervisors, guest)
    assert running == ["rhine"]


def _kill_when_migrating(lab, name, source_uri, guest):
    conn = libvirt.open(source_uri)
    dom = conn.lookupByUUIDString(guest)
    wait_for(lambda: dom.jobInfo()[0] != libvirt.VIR_DOMAIN_JOB_NONE, timeout=30, interval=0.1)
    host = lab.load()[name]
    lab._kill_namespace(host)
    conn.close()


@pytest.mark.django_db(transaction=True)
def test_second_migration_of_the_same_vm_is_refused(lab_hypervisors):
    rhine, danube = lab_hypervisors["rhine"], lab_hypervisors["danube"]
    guest = start_guest(rhine, "jupiter")
    sync.sync_all()
    vm = VirtualMachine.objects.get(uuid=guest)
    holder = create_job("hypervisors.live_migrate", "first", params={})
    Job.objects.filter(pk=holder.pk).update(state=Job.State.RUNNING)
    VirtualMachine.objects.filter(pk=vm.pk).update(busy_job=holder)
    vm.refresh_from_db()

    job = migrate_as_job(vm, danube)

    assert job.state == Job.State.FAILED
    assert f"already being changed by job #{holder.pk}" in job.message
    assert where_is(lab_hypervisors, guest) == (["rhine"], ["rhine"])
