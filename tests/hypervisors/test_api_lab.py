"""The hypervisors API against the real lab: each action is asked for through the API,
its job runs (here in-process, as a worker would run it; once through a real Celery
worker), and libvirt itself — not our database — says what happened."""

from decimal import Decimal

import libvirt
import pytest

from core.models import Job
from hypervisors import tasks
from hypervisors.models import Hypervisor, VirtualMachine
from hypervisors.services import sync
from inventory.models import Host, NamingScheme, Role
from tests.conftest import wait_for
from tests.hypervisors.conftest import start_guest, where_is

pytestmark = pytest.mark.lab

VMS = "/api/hypervisors/vms/"
HYPERVISORS = "/api/hypervisors/hypervisors/"


def accepted(response):
    assert response.status_code == 202, response.json()
    return response.json()["job"]


def run(job_id, task):
    """Run the job's Celery task in this process, as the worker would, and return the job."""
    task(job_id)
    return Job.objects.get(pk=job_id)


def synced_vm(name):
    sync.sync_all()
    return VirtualMachine.objects.get(name=name)


def libvirt_domain(hypervisor, domain_uuid):
    conn = libvirt.open(hypervisor.uri)
    try:
        dom = conn.lookupByUUIDString(domain_uuid)
        return {"active": bool(dom.isActive()), "vcpus": dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_CONFIG),
                "max_memory_mib": dom.maxMemory() // 1024}
    except libvirt.libvirtError:
        return None
    finally:
        conn.close()


def test_power_actions_reach_libvirt(operator_api, lab_hypervisors):
    rhine = lab_hypervisors["rhine"]
    guest = start_guest(rhine, "luna")
    vm = synced_vm("luna")

    job = run(accepted(operator_api.post(f"{VMS}{vm.pk}/power/", {"action": "force-off"})), tasks.power_job)
    assert job.state == Job.State.SUCCEEDED, job.message
    assert libvirt_domain(rhine, guest)["active"] is False
    assert VirtualMachine.objects.get(pk=vm.pk).state == "shutoff"

    job = run(accepted(operator_api.post(f"{VMS}{vm.pk}/power/", {"action": "start"})), tasks.power_job)
    assert job.state == Job.State.SUCCEEDED, job.message
    assert libvirt_domain(rhine, guest)["active"] is True

    # A guest with no operating system ignores ACPI: the graceful shutdown times out, then forces it off.
    job = run(accepted(operator_api.post(f"{VMS}{vm.pk}/power/", {"action": "shutdown", "timeout": 1})),
              tasks.power_job)
    assert job.state == Job.State.SUCCEEDED, job.message
    assert "did not shut down within 1 s: forcing it off" in job.log
    assert libvirt_domain(rhine, guest)["active"] is False
    assert job.result == {"vm": "luna", "action": "shutdown", "state": "shutoff"}


def test_resize_then_delete(operator_api, admin_api, lab_hypervisors):
    rhine = lab_hypervisors["rhine"]
    guest = start_guest(rhine, "io")
    conn = libvirt.open(rhine.uri)
    conn.lookupByUUIDString(guest).destroy()
    conn.close()
    vm = synced_vm("io")

    job = run(accepted(operator_api.post(f"{VMS}{vm.pk}/resize/", {"vcpus": 2, "memory_mib": 96})),
              tasks.resize_job)
    assert job.state == Job.State.SUCCEEDED, job.message
    assert libvirt_domain(rhine, guest) == {"active": False, "vcpus": 2, "max_memory_mib": 96}

    assert operator_api.delete(f"{VMS}{vm.pk}/?confirm=io").status_code == 403  # deleting is an admin's act
    job = run(accepted(admin_api.delete(f"{VMS}{vm.pk}/?confirm=io")), tasks.delete_vm_job)
    assert job.state == Job.State.SUCCEEDED, job.message
    assert where_is(lab_hypervisors, guest) == ([], [])
    assert VirtualMachine.objects.get(pk=vm.pk).state == "gone"


def test_create_names_the_vm_from_its_role(operator_api, lab_hypervisors):
    scheme = NamingScheme.objects.create(name="Solar bodies", names=["rhine", "titan", "rhea"])
    role = Role.objects.create(name="App server", slug="app", naming_scheme=scheme)
    danube = lab_hypervisors["danube"]
    sync.sync_all()
    Host.objects.create(hostname="titan", site=danube.host.site)

    response = operator_api.post(f"{VMS}create/", {"hypervisor": danube.pk, "role": "app", "vcpus": 1,
                                                   "memory_mib": 64})
    assert response.json()["name"] == "rhea"
    job = run(accepted(response), tasks.create_vm_job)

    assert job.state == Job.State.SUCCEEDED, job.message
    vm = VirtualMachine.objects.get(name="rhea")
    assert (vm.hypervisor, vm.role, vm.state) == (danube, role, "running")
    assert where_is(lab_hypervisors, str(vm.uuid)) == (["danube"], ["danube"])


def test_live_migration_to_the_planners_choice(operator_api, lab_hypervisors):
    guest = start_guest(lab_hypervisors["rhine"], "europa")
    vm = synced_vm("europa")

    response = operator_api.post(f"{VMS}{vm.pk}/migrate/", {})
    target = response.json()["target_name"]
    job = run(accepted(response), tasks.live_migrate_job)

    assert job.state == Job.State.SUCCEEDED, job.message
    assert target != "rhine" and where_is(lab_hypervisors, guest) == ([target], [target])
    assert VirtualMachine.objects.get(pk=vm.pk).hypervisor.name == target


def test_migration_to_a_host_without_room_is_refused_and_nothing_moves(operator_api, lab_hypervisors):
    rhine, danube = lab_hypervisors["rhine"], lab_hypervisors["danube"]
    guest = start_guest(rhine, "callisto", memory_mib=128)
    vm = synced_vm("callisto")
    Hypervisor.objects.filter(pk=danube.pk).update(memory_overcommit=Decimal("0.1"), memory_mib=1000)

    response = operator_api.post(f"{VMS}{vm.pk}/migrate/", {"target": danube.pk})

    assert response.status_code == 400
    assert response.json()["target"] == [
        "danube cannot take callisto: needs 128 MiB of memory; the most any candidate has free is 100 MiB"]
    assert not Job.objects.exists()
    assert where_is(lab_hypervisors, guest) == (["rhine"], ["rhine"])


def test_sync_through_the_api_finds_a_new_guest(operator_api, lab_hypervisors):
    volga = lab_hypervisors["volga"]
    guest = start_guest(volga, "ganymede")
    job = run(accepted(operator_api.post(f"{HYPERVISORS}{volga.pk}/sync/")), tasks.sync_job)
    assert job.state == Job.State.SUCCEEDED, job.message
    assert job.result["new"] == 1
    vm = VirtualMachine.objects.get(uuid=guest)
    assert (vm.hypervisor, vm.state) == (volga, "running")
    assert Hypervisor.objects.get(pk=volga.pk).connection == "connected"


@pytest.mark.worker
def test_maintenance_through_the_api_and_a_real_worker(celery_worker_process, operator_api, lab_hypervisors):
    rhine = lab_hypervisors["rhine"]
    guests = [start_guest(rhine, name) for name in ("odin", "freya")]
    sync.sync_all()
    plan = operator_api.get(f"{HYPERVISORS}{rhine.pk}/evacuation-plan/").json()
    assert sorted(move["vm"] for move in plan["moves"]) == ["freya", "odin"] and plan["unplaced"] == []

    job_id = accepted(operator_api.post(f"{HYPERVISORS}{rhine.pk}/maintenance/", {"parallel": 2}))

    finished = wait_for(lambda: Job.objects.get(pk=job_id).is_finished, timeout=180, interval=0.5)
    job = Job.objects.get(pk=job_id)
    assert finished and job.state == Job.State.SUCCEEDED, f"{job.state}: {job.message}\n{job.log}"
    assert job.celery_task_id
    assert [child.state for child in job.children.all()] == [Job.State.SUCCEEDED] * 2
    for guest in guests:
        running, defined = where_is(lab_hypervisors, guest)
        assert len(running) == 1 and running == defined and running != ["rhine"]
    assert Host.objects.get(pk=rhine.host_id).status == "maintenance"

    left = operator_api.post(f"{HYPERVISORS}{rhine.pk}/leave-maintenance/")
    assert left.status_code == 200 and left.json()["host_status"] == "active"
