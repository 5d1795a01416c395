"""Moving the lab's real machines to the embedded cloud: rehost to EC2 reading disks where
they live (a physical host's device over SSH while it serves, a running VM's qcow2 on its
hypervisor's own storage through libvirt), and the lab database server's data to RDS.
What the cloud holds is read back with GetSnapshotBlock and compared with what the hosts'
own tools read, never with our block map."""

import hashlib
import os
import uuid
from contextlib import contextmanager

import libvirt
import psycopg
import pytest

from access.models import SSHCredential
from access.services import trust
from cloud.drivers import ebs
from cloud.models import DiskReplication, ReplicatedBlock, ReplicationPass
from cloud.services import rds_replatform
from cloud.services import replication as replication_service
from cloud.services.workloads import load_workloads
from core.actions import SYSTEM
from hypervisors.models import VirtualMachine
from hypervisors.services import sync
from hypervisors.services.actions import domain_xml
from hypervisors.services.disk_sources import Method
from inventory.models import Host, Site
from migrations_tool.models import Run, StepState
from migrations_tool.services import plans, runs
from migrations_tool.services.assessment import assess
from tests.fixtures.lab import LAB_DISK_SIZE, UNDEFINE_METADATA, bytes_from, guest_write, on_host
from tests.migrations_tool.conftest import work

pytestmark = pytest.mark.lab

BLOCK = 512 * 1024
APP = "ceres"
LOCAL = "/var/lib/libvirt/images"
VM_DISK = 64 * 1024 * 1024


def cloud_disk(account, replication):
    """The disk as the cloud holds it: each block from the newest completed snapshot that has
    it (moto's child snapshots hold only their own blocks), read with GetSnapshotBlock."""
    blocks = {}
    for snapshot_id in replication.snapshot_chain:
        for index, token in ebs.list_snapshot_blocks(account, snapshot_id).items():
            blocks[index] = ebs.get_snapshot_block(account, snapshot_id, index, token)
    image = bytearray(replication.size_bytes)
    for index, data in blocks.items():
        image[index * BLOCK:(index + 1) * BLOCK] = data[:max(0, replication.size_bytes - index * BLOCK)]
    return bytes(image)


@contextmanager
def quiet(lab, name):
    """The host's /srv frozen (fsfreeze: flushed, writes held), as a cutover's last pass sees a
    stopped workload: only then can the cloud's copy equal the device read afterwards (ext4
    keeps writing its journal and superblock on a live host)."""
    on_host(lab, name, "fsfreeze -f /srv")
    try:
        yield
    finally:
        on_host(lab, name, "fsfreeze -u /srv")


def synced_and_compared(lab, run, operator, account, replication, device):
    """A delta sent while the host is quiet; then the cloud's disk equals the device."""
    with quiet(lab, APP):
        run = work(runs.add_action(run, "sync", operator))
        assert run.state == Run.State.WAITING, run.message
        replication.refresh_from_db()
        assert cloud_disk(account, replication) == bytes_from(
            lab, APP, f"dd if=/dev/{device} bs=4M iflag=direct status=none")
    return run


def ec2_plan(workload_filter, account, disk):
    plan = plans.create_plan(f"EC2 {uuid.uuid4().hex[:6]}", assess(load_workloads(**workload_filter),
                                                                    account=account), account=account)
    plan.workloads.update(strategy="rehost-ec2", instance_type="t3.micro", disk=disk)
    return plan


@pytest.fixture
def lab_login(lab, db):
    SSHCredential.objects.create(name="lab", username="root", private_key=lab.ssh_key.read_text(), is_default=True)


@pytest.fixture
def ceres(lab, lab_login):
    lab.heal(APP)
    lab.up(log=lambda line: None)
    host = Host.objects.create(hostname=APP, site=Site.objects.create(name="Rack", slug="rack"), status="active",
                               mgmt_address=lab.host(APP).address, cpu_cores=2, memory_mib=2048)
    trust.trust_public_key(host, lab.host(APP).ssh_host_key, user=SYSTEM)
    yield host
    lab.heal(APP)
    lab.up(log=lambda line: None)


def test_a_running_physical_host_is_rehosted_from_its_device_over_ssh(lab, ceres, embedded_account, operator):
    device = lab.host(APP).disk_device
    on_host(lab, APP, "head -c 2M /dev/urandom > /srv/before.bin && sync")
    run = work(runs.start_run(ec2_plan({"host_ids": [ceres.pk]}, embedded_account, device), operator))
    assert run.state == Run.State.WAITING, run.message
    replication = DiskReplication.objects.get()
    assert (replication.source_kind, replication.source_host, replication.source_disk) == ("host", ceres, device)
    run = synced_and_compared(lab, run, operator, embedded_account, replication, device)

    on_host(lab, APP, "head -c 1M /dev/urandom > /srv/between.bin && sync")  # the host goes on writing
    run = work(runs.add_action(run, "sync", operator))
    assert run.state == Run.State.WAITING, run.message
    passes = list(ReplicationPass.objects.filter(replication=replication).order_by("pk"))
    first, second = passes[0], passes[-1]  # the full copy; the delta after the host wrote
    assert {p.method for p in passes} == {Method.SOURCE_HASH}
    assert first.bytes_scanned == second.bytes_scanned == LAB_DISK_SIZE  # read on the host, every time
    assert 2 * BLOCK <= second.bytes_sent < 40 * BLOCK  # the new file and the file system's own changes
    assert second.bytes_received < second.bytes_sent + 40 * 1024  # only changed blocks came back
    run = synced_and_compared(lab, run, operator, embedded_account, replication, device)

    detail = operator_client_json(operator, run)
    shown = detail["replication_passes"][0]["passes"]
    assert [p["method"] for p in shown] == [Method.SOURCE_HASH] * replication.passes.count()
    delta = next(p for p in shown if p["id"] == second.pk)
    assert (delta["bytes_sent"], delta["bytes_scanned"]) == (second.bytes_sent, LAB_DISK_SIZE)


def operator_client_json(operator, run):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(operator)
    return client.get(f"/api/migrations/runs/{run.pk}/").json()


@pytest.fixture
def running_vm(lab, lab_hypervisors, lab_login):
    """A running VM with a 64 MiB qcow2 (some data) on rhine's own storage: not a file this worker can open."""
    rhine = lab_hypervisors["rhine"]
    trust.trust_public_key(rhine.host, lab.host("rhine").ssh_host_key, user=SYSTEM)
    path = f"{LOCAL}/juno.qcow2"
    on_host(lab, "rhine", f"mkdir -p {LOCAL} && rm -f {path} && qemu-img create -q -f qcow2 {path} {VM_DISK} && "
                          f"qemu-io -f qcow2 -c 'write -P 0x5a 0 3M' -c 'write -P 0x6b 40M 1M' {path} >/dev/null")
    assert not os.path.exists(path) or os.path.getsize(path) != VM_DISK  # the worker does not see rhine's disk
    conn = libvirt.open(rhine.uri)
    dom = conn.defineXML(domain_xml("juno", 1, 64, disk_path=path, disk_format="qcow2", domain_uuid=uuid.uuid4()))
    dom.create()
    sync.sync_all()
    yield VirtualMachine.objects.get(uuid=dom.UUIDString()), dom, path
    if dom.isActive():
        dom.destroy()
    dom.undefineFlags(UNDEFINE_METADATA)
    conn.close()


def test_a_running_vm_is_rehosted_from_its_hypervisor_with_changed_block_tracking(
        lab, running_vm, embedded_account, operator):
    vm, dom, path = running_vm
    run = work(runs.start_run(ec2_plan({"vm_ids": [vm.pk]}, embedded_account, "vda"), operator))
    assert run.state == Run.State.WAITING, run.message
    replication = DiskReplication.objects.get()
    guest_view = f"t=$(mktemp) && qemu-img convert -U -f qcow2 -O raw {path} $t && cat $t && rm $t"
    assert cloud_disk(embedded_account, replication) == bytes_from(lab, "rhine", guest_view)

    guest_write(vm.hypervisor, vm.uuid, 10 * BLOCK, BLOCK, 0x7c)  # the guest writes one block between passes
    run = work(runs.add_action(run, "sync", operator))
    assert run.state == Run.State.WAITING, run.message
    passes = list(ReplicationPass.objects.filter(replication=replication).order_by("pk"))
    first, second = passes[0], passes[-1]
    assert first.method == Method.ALLOCATION and {p.method for p in passes[1:]} == {Method.CBT}
    assert (second.bytes_scanned, second.bytes_sent, second.blocks_sent) == (BLOCK, BLOCK, 1)
    assert first.bytes_scanned == 8 * BLOCK  # the allocated blocks only (3 MiB + 1 MiB): holes are never read
    replication.refresh_from_db()
    assert cloud_disk(embedded_account, replication) == bytes_from(lab, "rhine", guest_view)


def test_a_source_powered_off_mid_pass_fails_the_step_and_resumes_where_it_stopped(
        lab, ceres, embedded_account, operator, settings, monkeypatch):
    settings.OPSCONSOLE_CLOUD_REPLICATION_WORKERS = 1
    device = lab.host(APP).disk_device
    on_host(lab, APP, "head -c 48M /dev/urandom > /srv/big.bin && sync")
    run = runs.start_run(ec2_plan({"host_ids": [ceres.pk]}, embedded_account, device), operator)
    put_block, puts = replication_service.ebs.put_snapshot_block, []

    def put_then_pull_the_plug(*args, **kwargs):
        puts.append((args[1], args[2], hashlib.sha256(args[3]).digest()))  # (snapshot, block, content)
        if len(puts) == 8:
            lab.power_off(APP)  # mid-pass: 8 blocks in, the rest still on the host's disk
        return put_block(*args, **kwargs)

    monkeypatch.setattr(replication_service.ebs, "put_snapshot_block", put_then_pull_the_plug)
    run = work(run)
    assert run.state == Run.State.FAILED
    step = run.steps.get(kind="replicate")
    assert step.state == StepState.FAILED and APP in step.error and "resumes" in step.error
    replication = DiskReplication.objects.get()
    assert replication.state == DiskReplication.State.FAILED  # not left claimed
    acknowledged = ReplicatedBlock.objects.count()
    assert 8 <= acknowledged < 96

    lab.power_on(APP)
    run = work(runs.resume(run, operator))
    assert run.state == Run.State.WAITING, run.message
    replication.refresh_from_db()
    snapshot_id = replication.snapshot_chain[0]  # the pass that failed, completed by the resumed one
    held = ebs.list_snapshot_blocks(embedded_account, snapshot_id)
    assert len(held) == ReplicatedBlock.objects.filter(snapshot__snapshot_id=snapshot_id).count()
    synced_and_compared(lab, run, operator, embedded_account, replication, device)
    failed, resumed = ReplicationPass.objects.filter(replication=replication, snapshot__snapshot_id=snapshot_id)
    assert (failed.outcome, resumed.outcome) == ("failed", "sent")
    into_it = [put for put in puts if put[0] == snapshot_id]
    assert len(into_it) == len(set(into_it))  # no block went to the cloud twice with the same content...
    again = len(into_it) - len({(snapshot, index) for snapshot, index, _ in into_it})
    assert again < 8  # ...only blocks the reboot itself changed (the file system's superblock, journal)
    assert failed.blocks_sent == acknowledged and resumed.blocks_sent == len(held) - acknowledged + again


def test_the_lab_database_server_is_replatformed_to_rds_with_its_data(lab, embedded_account, operator, settings):
    """vesta, the test lab's database server (its PostgreSQL on its own disk, in its own
    namespace), moves to the embedded cloud's RDS: the orders arrive, counted on both sides."""
    settings.OPSCONSOLE_CLOUD_RDS_LOCAL_PREFIX = f"rds_t{uuid.uuid4().hex[:8]}_"
    address = lab.host("vesta").address
    vesta = Host.objects.create(hostname="vesta", site=Site.objects.create(name="Rack", slug="rack"),
                                status="active", mgmt_address=address, cpu_cores=2, memory_mib=2048)
    plan = plans.create_plan("RDS", assess(load_workloads(host_ids=[vesta.pk]), account=embedded_account),
                             account=embedded_account)
    plan.workloads.update(strategy="replatform-rds", engine="postgres", rds_class="db.t3.micro",
                          source_dsn=f"postgresql://postgres@{address}:5432/shop")
    source = f"host={address} dbname=shop user=postgres connect_timeout=5"
    try:
        run = work(runs.start_run(plan, operator))
        assert run.state == Run.State.WAITING, run.message
        identifier = run.steps.get(kind="create_database").checkpoint["identifier"]
        with psycopg.connect(source) as there, psycopg.connect(
                rds_replatform.endpoint_dsn(embedded_account, identifier)) as here:
            counted = [c.execute("SELECT count(*), max(id) FROM orders").fetchone() for c in (there, here)]
        assert counted[0] == counted[1] and counted[0][0] >= 5000
        assert run.steps.get(kind="verify_data").checkpoint["outcome"]["report"]["ok"] is True
    finally:
        for database in embedded_account.rds_databases.all():
            rds_replatform.delete_instance(embedded_account, database.identifier)
