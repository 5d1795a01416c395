"""The "vm" disk source on the real lab: a VM's qcow2 on its hypervisor's own storage (not
visible to this worker), read through libvirt pull backups or qemu-nbd, over SSH with the
trusted host key. Checked with libvirt and the hosts' own shells, not with the code under test."""

import os
import threading
import uuid

import libvirt
import pytest

from access.models import SSHCredential
from access.services import trust
from core.actions import SYSTEM
from hypervisors.models import VirtualMachine
from hypervisors.services import sync, vm_disk_source
from hypervisors.services.actions import domain_xml
from hypervisors.services.disk_sources import DiskRef, DiskSourceError, Method
from tests.fixtures.lab import UNDEFINE_METADATA, guest_write, on_host

pytestmark = pytest.mark.lab

MiB = 1024 * 1024
GiB = 1024 * MiB
BLOCK = MiB
LOCAL = "/var/lib/libvirt/images"  # rhine's own tmpfs: local storage
DATA = {**{i: b"\x11" for i in range(64)}, **{1024 + i: b"\x22" for i in range(4)}}  # block -> pattern


@pytest.fixture
def rhine(lab, lab_hypervisors):
    """rhine reachable over SSH as the health app records it: the lab key, its trusted host key."""
    SSHCredential.objects.create(name="lab", username="root", private_key=lab.ssh_key.read_text(), is_default=True)
    trust.trust_public_key(lab_hypervisors["rhine"].host, lab.host("rhine").ssh_host_key, user=SYSTEM)
    on_host(lab, "rhine", f"mkdir -p {LOCAL} && rm -f {LOCAL}/*")
    return lab_hypervisors["rhine"]


@pytest.fixture
def guest(lab, rhine):
    """A running VM with a 4 GiB qcow2 on rhine's own storage: 64 MiB of 0x11 at 0, 4 MiB of 0x22 at 1 GiB."""
    path = f"{LOCAL}/ceres.qcow2"
    on_host(lab, "rhine", f"qemu-img create -q -f qcow2 {path} 4G && "
                          f"qemu-io -f qcow2 -c 'write -P 0x11 0 64M' -c 'write -P 0x22 1G 4M' {path} >/dev/null")
    conn = libvirt.open(rhine.uri)
    dom = conn.defineXML(domain_xml("ceres", 1, 64, disk_path=path, disk_format="qcow2", domain_uuid=uuid.uuid4()))
    dom.create()
    sync.sync_all()
    vm = VirtualMachine.objects.get(uuid=dom.UUIDString())
    yield vm, dom, path
    conn.close()
    fresh = libvirt.open(rhine.uri)  # the first one may have died with a partition
    dom = fresh.lookupByUUIDString(str(vm.uuid))
    if dom.isActive():
        dom.destroy()
    dom.undefineFlags(UNDEFINE_METADATA)
    fresh.close()


def read_pass(vm, since="", known=None, ok=True):
    with vm_disk_source.open_source(DiskRef.for_vm(vm, "vda"), since=since) as source:
        blocks = dict(source.blocks(BLOCK, known or {}))
        source.finished(ok=ok)
    return source, blocks


def checkpoints(dom):
    return sorted(c.getName() for c in dom.listAllCheckpoints(0))


def assert_nothing_claimed(lab, dom):
    """No backup job, no socket directory, no scratch file left on the hypervisor."""
    with pytest.raises(libvirt.libvirtError):
        dom.backupGetXMLDesc(0)
    assert dom.jobInfo()[0] == libvirt.VIR_DOMAIN_JOB_NONE
    assert on_host(lab, "rhine", "ls -A /var/lib/libvirt/qemu | grep opsconsole || true") == ""


def test_available_disks_come_from_libvirt(guest):
    vm, _dom, path = guest
    [vda] = vm_disk_source.available_disks(vm)
    assert (vda.name, vda.size) == ("vda", 4 * GiB)
    assert vda.details == {"format": "qcow2", "path": path, "type": "file"}
    assert vda.allocated is not None and vda.allocated >= 68 * MiB


def test_the_first_pass_reads_allocated_blocks_and_the_next_only_what_the_guest_wrote(lab, guest):
    vm, dom, _path = guest

    first, blocks = read_pass(vm)
    assert first.stats.method == Method.ALLOCATION
    assert first.size == 4 * GiB
    assert sorted(blocks) == sorted(DATA)
    assert all(blocks[i] == DATA[i] * BLOCK for i in DATA)
    assert first.stats.bytes_scanned == first.stats.bytes_received == 68 * MiB
    assert first.checkpoint.startswith("opsconsole-") and checkpoints(dom) == [first.checkpoint]
    assert "point-in-time view (libvirt pull backup)" in first.stats.consistency
    assert_nothing_claimed(lab, dom)

    guest_write(vm.hypervisor, vm.uuid, 2 * MiB, MiB, 0x33)  # overwrite one block of data
    guest_write(vm.hypervisor, vm.uuid, 3 * GiB, MiB, 0x44)  # and fill one block of a hole
    second, blocks = read_pass(vm, since=first.checkpoint)
    assert second.stats.method == Method.CBT
    assert sorted(blocks) == [2, 3 * 1024]
    assert blocks[2] == b"\x33" * BLOCK and blocks[3 * 1024] == b"\x44" * BLOCK
    assert second.stats.bytes_scanned == 2 * MiB and second.stats.blocks_offered == 2
    assert second.checkpoint != first.checkpoint and checkpoints(dom) == [second.checkpoint]  # the older one went
    assert_nothing_claimed(lab, dom)


def test_a_failed_pass_leaves_the_chain_at_since(lab, guest):
    vm, dom, _path = guest
    first, _ = read_pass(vm)

    failed, _ = read_pass(vm, since=first.checkpoint, ok=False)
    assert failed.stats.method == Method.CBT and failed.checkpoint == first.checkpoint
    assert checkpoints(dom) == [first.checkpoint]
    with pytest.raises(RuntimeError), vm_disk_source.open_source(DiskRef.for_vm(vm, "vda"), first.checkpoint) as s:
        next(s.blocks(BLOCK, {}), None)
        raise RuntimeError("the target failed")  # the context manager's exit is a failed pass
    assert checkpoints(dom) == [first.checkpoint]
    assert_nothing_claimed(lab, dom)

    guest_write(vm.hypervisor, vm.uuid, 5 * MiB, MiB, 0x55)
    again, blocks = read_pass(vm, since=first.checkpoint)
    assert again.stats.method == Method.CBT and sorted(blocks) == [5]  # still counted from the first pass


def test_a_checkpoint_gone_means_an_allocation_scan_and_says_so(guest):
    vm, dom, _path = guest
    source, blocks = read_pass(vm, since="opsconsole-19700101T000000-deadbeef")
    assert source.stats.method == Method.ALLOCATION and sorted(blocks) == sorted(DATA)
    assert "checkpoint opsconsole-19700101T000000-deadbeef is gone" in source.stats.consistency
    assert checkpoints(dom) == [source.checkpoint]


def test_known_blocks_now_in_holes_are_offered_as_zeros(guest):
    vm, _dom, _path = guest
    known = {2000: b"\x01" * 32}  # the target holds data where the disk has a hole
    source, blocks = read_pass(vm, known=known)
    assert blocks[2000] == bytes(BLOCK) and len(blocks) == len(DATA) + 1


def test_a_shut_off_vm_is_read_through_qemu_nbd_with_its_bitmap(lab, guest):
    vm, dom, path = guest
    first, _ = read_pass(vm)
    dom.destroy()
    on_host(lab, "rhine", f"qemu-io -f qcow2 -c 'write -P 0x66 6M 1M' {path} >/dev/null")  # written while it is off

    changed, blocks = read_pass(vm, since=first.checkpoint)
    assert changed.stats.method == Method.CBT and sorted(blocks) == [6]
    assert blocks[6] == b"\x66" * BLOCK
    assert changed.checkpoint == first.checkpoint  # no new checkpoint while it is off
    assert changed.stats.consistency.startswith("VM shut off: its disk is at rest")

    full, blocks = read_pass(vm)
    assert full.stats.method == Method.ALLOCATION and sorted(blocks) == sorted(DATA)
    assert blocks[6] == b"\x66" * BLOCK and blocks[7] == b"\x11" * BLOCK
    assert full.checkpoint == ""
    # qemu-nbd and its socket directory went with the session. (Only this source's: /tmp and the
    # process table are the machine's, shared with every other lab a parallel test runs.)
    for source in (changed, full):
        directory = os.path.dirname(source.remote_socket)
        assert directory.startswith("/tmp/opsconsole-nbd.")
        assert on_host(lab, "rhine", f"pgrep -f '[q]emu-nbd.*{directory}' || true") == ""
        assert on_host(lab, "rhine", f"ls -d {directory} 2>/dev/null || true") == ""
    assert checkpoints(dom) == [first.checkpoint]


def test_the_extents_and_reads_serve_a_cold_copy(guest):
    vm, dom, _path = guest
    dom.destroy()
    with vm_disk_source.open_source(DiskRef.for_vm(vm, "vda")) as source:
        assert source.extents() == [(0, 64 * MiB), (GiB, 4 * MiB)]
        assert source.read(GiB + 100, 10) == b"\x22" * 10
        assert source.read(4 * GiB - 5, 100) == bytes(5)  # fewer at the end of the disk
        source.finished(ok=True)


def test_a_hypervisor_partitioned_mid_read_raises_gone_and_the_next_pass_cleans_up(lab, guest):
    vm, dom, _path = guest
    outcome = {}
    source = vm_disk_source.open_source(DiskRef.for_vm(vm, "vda"))
    blocks = source.blocks(BLOCK, {})
    next(blocks)

    def read_on():
        try:
            for _ in blocks:
                pass
        except DiskSourceError as exc:
            outcome["error"] = exc
        finally:
            source.close()

    lab.partition("rhine")
    try:
        reader = threading.Thread(target=read_on, daemon=True)
        reader.start()
        reader.join(180)  # a bound, not a timing assert: a hang fails here instead of forever
        assert not reader.is_alive(), "the read hung on a partitioned hypervisor"
    finally:
        lab.heal("rhine")
    error = outcome["error"]
    assert error.gone and "rhine stopped answering while vda of ceres was read" in str(error)

    # Back again: the next pass ends the backup job the lost one left, and leaves nothing.
    conn = libvirt.open(vm.hypervisor.uri)  # ours died with the link
    dom = conn.lookupByUUIDString(str(vm.uuid))
    again, blocks = read_pass(vm)
    assert sorted(blocks) == sorted(DATA)
    assert_nothing_claimed(lab, dom)
    assert checkpoints(dom) == [again.checkpoint]
    conn.close()
