"""The "host" disk source on the real lab: ceres, a physical lab host, its loop-device disk
(ext4 at /srv) read over SSH while it runs, hashed on the host. Checked against what the
host's own dd reads, not against the code under test."""

import hashlib
import threading

import pytest

from access.models import SSHCredential
from access.services import trust
from core.actions import SYSTEM
from hypervisors.services import disk_sources, host_disk_source
from hypervisors.services.disk_sources import DiskRef, DiskSourceError, Method
from inventory.models import Host, Site
from tests.fixtures.lab import LAB_DISK_SIZE, bytes_from, on_host

pytestmark = pytest.mark.lab

BLOCK = 512 * 1024
APP = "ceres"


@pytest.fixture
def ceres(lab, db):
    """ceres in the inventory, reachable over SSH as the health app records it."""
    lab.heal(APP)
    lab.up(log=lambda line: None)
    host = Host.objects.create(hostname=APP, site=Site.objects.create(name="Lab", slug="lab"), status="active",
                               mgmt_address=lab.host(APP).address)
    SSHCredential.objects.create(name="lab", username="root", private_key=lab.ssh_key.read_text(), is_default=True)
    trust.trust_public_key(host, lab.host(APP).ssh_host_key, user=SYSTEM)
    yield host
    lab.heal(APP)
    lab.up(log=lambda line: None)


def device_blocks(lab):
    """{index: sha256} of every non-zero block of ceres's disk, read by the host's own dd."""
    # iflag=direct: what the disk holds, not what the device's page cache remembers of it
    raw = bytes_from(lab, APP, f"sync; dd if=/dev/{lab.host(APP).disk_device} bs=4M iflag=direct status=none")
    assert len(raw) == LAB_DISK_SIZE
    zero = bytes(BLOCK)
    return {i // BLOCK: hashlib.sha256(raw[i:i + BLOCK]).digest() for i in range(0, len(raw), BLOCK)
            if raw[i:i + BLOCK] != zero}


def read_pass(host, device, known):
    with disk_sources.open_source(DiskRef.for_host(host, device)) as source:
        offered = {index: hashlib.sha256(data).digest() for index, data in source.blocks(BLOCK, known)}
        source.finished(ok=True)
    return source, offered


def test_the_disks_of_a_host_are_what_its_lsblk_lists(lab, ceres):
    device = lab.host(APP).disk_device
    choices = disk_sources.available_disks(host=ceres)
    assert [c.name for c in choices] == [device]
    disk = choices[0]
    assert disk.size == LAB_DISK_SIZE and disk.details["mountpoints"] == ["/srv"]
    assert disk.details["path"] == f"/dev/{device}" and disk.allocated and disk.allocated < LAB_DISK_SIZE
    assert disk_sources.check_disk(DiskRef.for_host(ceres, device)).name == device
    for made_up in ("sda", "../../etc/shadow", f"{device}; reboot"):
        with pytest.raises(DiskSourceError) as refused:
            disk_sources.check_disk(DiskRef.for_host(ceres, made_up))
        assert f"is not one of {APP}'s disks ({device})" in str(refused.value)


def test_a_first_pass_sends_every_non_zero_block_and_the_next_only_what_changed(lab, ceres):
    device = lab.host(APP).disk_device
    on_host(lab, APP, "head -c 3M /dev/urandom > /srv/payload.bin && sync")
    expected = device_blocks(lab)
    first, offered = read_pass(ceres, device, {})
    assert offered == expected  # every non-zero block, its content what the host's dd reads
    assert first.stats.method == Method.SOURCE_HASH and "crash-consistent" in first.stats.consistency
    assert first.stats.bytes_scanned == LAB_DISK_SIZE  # a device has no holes to skip: all read, on the host

    on_host(lab, APP, "dd if=/dev/urandom of=/srv/payload.bin bs=512K count=1 seek=2 conv=notrunc status=none "
                      "&& sync")
    now = device_blocks(lab)
    changed = {index for index, digest in now.items() if expected.get(index) != digest}
    second, offered = read_pass(ceres, device, expected)
    assert set(offered) == changed and 1 <= len(changed) < 40  # the payload block, and the file system's own
    assert all(offered[index] == now[index] for index in offered)
    # The wire carries the changed blocks, not the disk: hashes go up, only changes come back.
    assert second.stats.bytes_received < (len(changed) + 1) * BLOCK
    assert second.stats.bytes_scanned == LAB_DISK_SIZE


def test_a_block_that_became_zero_is_offered_as_zeros(lab, ceres):
    device = lab.host(APP).disk_device
    known = device_blocks(lab)
    stale = {**known, (LAB_DISK_SIZE // BLOCK) - 1: hashlib.sha256(b"was data once").digest()}
    _, offered = read_pass(ceres, device, stale)
    assert offered == {(LAB_DISK_SIZE // BLOCK) - 1: hashlib.sha256(bytes(BLOCK)).digest()}


def test_a_changed_host_key_stops_the_read(lab, ceres):
    lab.replace_ssh_host_key(APP)
    try:
        with pytest.raises(DiskSourceError) as refused:
            host_disk_source.available_disks(ceres)
        assert "host key nobody trusted" in str(refused.value)
    finally:
        trust.trust_public_key(ceres, lab.host(APP).ssh_host_key, user=SYSTEM)
    assert disk_sources.available_disks(host=ceres)  # trusted again: it reads


def test_a_host_cut_off_mid_read_is_a_resumable_error(transactional_db, lab, ceres):  # read in a thread
    device = lab.host(APP).disk_device
    outcome = {}

    def read():
        try:
            with disk_sources.open_source(DiskRef.for_host(ceres, device)) as source:
                for _ in source.blocks(BLOCK, {}):
                    if "cut" not in outcome:
                        outcome["cut"] = True
                        lab.partition(APP)
        except DiskSourceError as exc:
            outcome["error"] = exc

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=180)  # a bound for a hung read, not a timing assert
    assert not reader.is_alive(), "the read hung on a partitioned host"
    assert outcome.get("cut") and outcome["error"].gone
    assert APP in str(outcome["error"])
    lab.heal(APP)
    assert read_pass(ceres, device, {})[1]  # back: it reads again
