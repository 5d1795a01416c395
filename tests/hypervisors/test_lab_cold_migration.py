"""Cold migration of a shut-off VM whose disk is local to its hypervisor: copied over real
SSH between two lab hosts, verified, and checked afterwards with libvirt and with the
hosts' own shells (not with our database)."""

import uuid

import libvirt
import pytest

from access.models import HostKey, SSHCredential
from access.services import trust
from core.actions import SYSTEM
from core.jobs import JobRecorder, create_job, run_job
from core.models import Job
from hypervisors.models import Hypervisor, VirtualMachine
from hypervisors.services import migration, sync
from hypervisors.services.actions import domain_xml
from tests.conftest import wait_for
from tests.hypervisors.conftest import on_host, where_is

pytestmark = pytest.mark.lab

# /var/lib/libvirt is each lab host's own tmpfs: a directory under it is local storage.
LOCAL = "/var/lib/libvirt/images"
DISK_MIB = 48


@pytest.fixture
def local_storage(lab, lab_hypervisors):
    """SSH access as the health app records it (the lab key, the hosts' trusted keys), the
    shared storage declared by its path, and an empty local directory on every host."""
    SSHCredential.objects.create(name="lab", username="root", private_key=lab.ssh_key.read_text(), is_default=True)
    for name, lab_host in lab.hypervisors().items():
        trust.trust_public_key(lab_hypervisors[name].host, lab_host.ssh_host_key, user=SYSTEM)
        on_host(lab, name, f"mkdir -p {LOCAL} && rm -f {LOCAL}/*")
    Hypervisor.objects.update(shared_storage_path=str(lab.shared_storage))
    for hypervisor in lab_hypervisors.values():
        hypervisor.refresh_from_db()
    return lab_hypervisors


def define_guest_with_local_disk(lab, hypervisor, name):
    """A shut-off guest with a sparse raw disk: random data at the start and near the end, a hole between."""
    path = f"{LOCAL}/{name}.img"
    on_host(lab, hypervisor.name,
            f"head -c 3M /dev/urandom > {path} && truncate -s {DISK_MIB}M {path} && "
            f"head -c 100000 /dev/urandom | dd of={path} bs=1M seek=40 conv=notrunc status=none")
    conn = libvirt.open(hypervisor.uri)
    dom = conn.defineXML(domain_xml(name, 1, 64, disk_path=path, disk_format="raw", domain_uuid=uuid.uuid4()))
    guest = dom.UUIDString()
    conn.close()
    sync.sync_all()
    return VirtualMachine.objects.get(uuid=guest), path


def sha256(lab, name, path):
    return on_host(lab, name, f"sha256sum {path}").split()[0]


def listing(lab, name):
    return on_host(lab, name, f"ls -A {LOCAL}").split()


def cold_migrate_as_job(vm, target, recorder_class=JobRecorder):
    job = create_job("hypervisors.cold_migrate", f"Migrate {vm.name}")

    def work(job, _recorder):
        return migration.cold_migrate(vm, target, job, recorder_class(job))

    run_job(job.pk, work)
    job.refresh_from_db()
    return job


@pytest.mark.django_db(transaction=True)
def test_a_local_disk_is_copied_verified_and_the_vm_moves(lab, local_storage):
    rhine, danube = local_storage["rhine"], local_storage["danube"]
    vm, path = define_guest_with_local_disk(lab, rhine, "ceres")
    before = sha256(lab, "rhine", path)
    on_host(lab, "danube", f"echo partial > {path}.opsconsole-copy-0badc0de")  # a killed worker's leftover

    job = cold_migrate_as_job(vm, danube)

    assert job.state == Job.State.SUCCEEDED, job.log
    assert where_is(local_storage, str(vm.uuid)) == ([], ["danube"])
    assert sha256(lab, "danube", path) == before
    assert listing(lab, "danube") == ["ceres.img"]  # no temporary copy left behind, nor the old leftover
    assert f"Removed {path}.opsconsole-copy-0badc0de on danube, left by an interrupted copy" in job.log
    assert listing(lab, "rhine") == []  # moved, not duplicated
    # The hole stayed a hole: fewer blocks allocated than the disk's length.
    size, blocks = on_host(lab, "danube", f"stat -c '%s %b' {path}").split()
    assert int(size) == DISK_MIB * 1024 * 1024 and int(blocks) * 512 < 8 * 1024 * 1024
    assert f"sha256 {before[:16]}… verified on both hosts" in job.log
    assert f"3 MiB of data in {DISK_MIB} MiB of disk (holes are not read)" in job.log  # the hole never crossed
    assert job.result["disks_copied"] == [path] and job.progress == 100
    vm.refresh_from_db()
    assert vm.hypervisor == danube and vm.busy_job is None


@pytest.mark.django_db(transaction=True)
def test_a_file_already_on_the_target_is_never_overwritten(lab, local_storage):
    rhine, danube = local_storage["rhine"], local_storage["danube"]
    vm, path = define_guest_with_local_disk(lab, rhine, "vesta")
    on_host(lab, "danube", f"echo precious > {path}")

    job = cold_migrate_as_job(vm, danube)

    assert job.state == Job.State.FAILED
    assert f"danube already has a file at {path}; refusing to overwrite it" in job.message
    assert on_host(lab, "danube", f"cat {path}") == "precious\n"
    assert where_is(local_storage, str(vm.uuid)) == ([], ["rhine"])
    assert listing(lab, "rhine") == ["vesta.img"]


@pytest.mark.django_db(transaction=True)
def test_a_qcow2_overlay_is_refused_rather_than_copied_without_its_base(lab, local_storage):
    rhine, danube = local_storage["rhine"], local_storage["danube"]
    base, overlay = f"{LOCAL}/base.qcow2", f"{LOCAL}/juno.qcow2"
    on_host(lab, "rhine", f"qemu-img create -q -f qcow2 {base} 16M && "
                          f"qemu-img create -q -f qcow2 -b {base} -F qcow2 {overlay}")
    conn = libvirt.open(rhine.uri)
    dom = conn.defineXML(domain_xml("juno", 1, 64, disk_path=overlay, disk_format="qcow2", domain_uuid=uuid.uuid4()))
    guest = dom.UUIDString()
    conn.close()
    sync.sync_all()

    job = cold_migrate_as_job(VirtualMachine.objects.get(uuid=guest), danube)

    assert job.state == Job.State.FAILED
    assert f"{overlay} is an overlay on {base}" in job.message and "Flatten it first" in job.message
    assert listing(lab, "danube") == []  # nothing written
    assert where_is(local_storage, guest) == ([], ["rhine"])


def acting_on_first_copied_chunk(action):
    """A JobRecorder that calls action(job) once, when the copy first reports bytes copied:
    what an operator or another process does while the copy runs."""

    class Recorder(JobRecorder):
        acted = False

        def progress(self, percent, message=None, check_cancel=True):
            if message and message.startswith("Copying") and " 0 of " not in message and not Recorder.acted:
                Recorder.acted = True
                action(self.job)
            super().progress(percent, message, check_cancel)

    return Recorder


def press_cancel(job):
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)


@pytest.mark.django_db(transaction=True)
def test_a_cancelled_copy_leaves_the_vm_on_its_source_and_nothing_on_the_target(lab, local_storage):
    rhine, danube = local_storage["rhine"], local_storage["danube"]
    vm, path = define_guest_with_local_disk(lab, rhine, "pallas")
    before = sha256(lab, "rhine", path)

    job = cold_migrate_as_job(vm, danube, acting_on_first_copied_chunk(press_cancel))

    assert job.state == Job.State.CANCELLED
    assert "Removed the copies on danube" in job.log
    assert listing(lab, "danube") == []
    assert where_is(local_storage, str(vm.uuid)) == ([], ["rhine"])
    assert sha256(lab, "rhine", path) == before
    vm.refresh_from_db()
    assert vm.hypervisor == rhine and vm.busy_job is None


def distrust(lab, danube):
    HostKey.objects.filter(host=danube.host).update(trusted_at=None)


def trust_an_impostor(lab, danube):
    """A trusted key that is not the one the host presents."""
    HostKey.objects.filter(host=danube.host).delete()
    trust.trust_public_key(danube.host, lab.host("rhine").ssh_host_key, user=SYSTEM)


def point_elsewhere(lab, danube):
    """An operator gives danube another management address (here: rhine's machine)."""
    danube.host.mgmt_address = lab.host("rhine").address
    danube.host.save()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("break_trust, reason", [
    (distrust, "danube has no trusted SSH host key: trust it on the health page first"),
    (trust_an_impostor, "HOST KEY CHANGED"),
    (point_elsewhere, "danube has no trusted SSH host key: trust it on the health page first"),
])
def test_no_byte_moves_to_a_host_whose_key_is_not_trusted(lab, local_storage, break_trust, reason):
    rhine, danube = local_storage["rhine"], local_storage["danube"]
    vm, _path = define_guest_with_local_disk(lab, rhine, "hygiea")
    break_trust(lab, danube)

    job = cold_migrate_as_job(vm, danube)

    assert job.state == Job.State.FAILED and reason in job.message
    assert where_is(local_storage, str(vm.uuid)) == ([], ["rhine"])
    assert listing(lab, "danube") == []


@pytest.mark.django_db(transaction=True)
def test_a_disk_changed_during_the_copy_fails_verification_and_nothing_moves(lab, local_storage):
    """Someone writes to the source disk while it is copied (over bytes already sent): the
    sha256 of the two ends differ, the copy is removed, the VM stays where it was."""
    rhine, danube = local_storage["rhine"], local_storage["danube"]
    vm, path = define_guest_with_local_disk(lab, rhine, "eris")

    def tamper(job):
        on_host(lab, "rhine", f"printf tampered | dd of={path} conv=notrunc status=none")

    job = cold_migrate_as_job(vm, danube, acting_on_first_copied_chunk(tamper))

    assert job.state == Job.State.FAILED
    assert "the copy is corrupt" in job.message and "it stays on rhine" in job.message
    assert listing(lab, "danube") == []
    assert where_is(local_storage, str(vm.uuid)) == ([], ["rhine"])
    assert on_host(lab, "rhine", f"head -c 8 {path}") == "tampered"


def test_through_the_api_and_a_real_worker(celery_worker_process, operator_api, lab, local_storage):
    rhine, danube = local_storage["rhine"], local_storage["danube"]
    vm, path = define_guest_with_local_disk(lab, rhine, "makemake")
    before = sha256(lab, "rhine", path)

    response = operator_api.post(f"/api/hypervisors/vms/{vm.pk}/migrate/", {"target": danube.pk, "live": False},
                                 format="json")
    assert response.status_code == 202, response.json()
    job_id = response.json()["job"]

    finished = wait_for(lambda: Job.objects.get(pk=job_id).is_finished, timeout=180, interval=0.5)
    job = Job.objects.get(pk=job_id)
    assert finished and job.state == Job.State.SUCCEEDED, f"{job.state}: {job.message}\n{job.log}"
    assert job.celery_task_id and job.progress == 100
    assert (f"{path}: {DISK_MIB} MiB disk copied (3 MiB of data sent), sha256 {before[:16]}… verified on both "
            "hosts") in job.log
    assert where_is(local_storage, str(vm.uuid)) == ([], ["danube"])
    assert sha256(lab, "danube", path) == before and listing(lab, "rhine") == []
