"""Read a 4 GiB source holding 1 GiB of data where it lives, into the embedded cloud's EBS
API, through our replication: (a) a running VM whose qcow2 is on a lab hypervisor's own
storage, through libvirt (pull backup, NBD over SSH, changed-block tracking), and (b) a lab
physical host's block device over SSH (hashes computed on the host). For each: the full
pass, an incremental pass after 1% of the data blocks changed, and the old way of finding
those changes (every block read again and hashed by the worker); in the same run the plain
full read a sysadmin would script, `ssh HOST dd if=DEVICE bs=4M > /dev/null`.

Bytes on the wire are the source host's own link counters (its veth: SSH, TCP and all);
changed bytes are the blocks the pass found different (each one's SHA-256 changed).
Targets (issue 10): full pass within 1.3x the dd's time; incremental bytes on the wire
<= 1.1x the changed bytes; with changed-block tracking, bytes read at the source <= 1.1x too.

    python bench/source_read.py [--data-mib 1024] [--disk-gib 4] [--changed 0.01]
"""

import argparse
import random
import subprocess
import time
import uuid
from pathlib import Path

from benchsetup import setup_django, start_cloud, stop

BLOCK = 512 * 1024
MB = 1_000_000
IMAGES = "/var/lib/libvirt/images"


class LabShell:
    """Commands on lab hosts with the lab's key (the bench's own set-up, not the product's)."""

    def __init__(self, lab, hosts):
        self.lab, self.hosts = lab, hosts

    def argv(self, name, script):
        return ["ssh", "-i", str(self.lab.ssh_key), "-o", "StrictHostKeyChecking=no", "-o",
                "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
                f"root@{self.hosts[name].address}", script]

    def __call__(self, name, script):
        return subprocess.run(self.argv(name, script), check=True, capture_output=True, text=True).stdout

    def wire_bytes(self, name):
        """Bytes through the host's link so far, both ways (the machine-side end of its veth)."""
        stats = Path("/sys/class/net") / self.hosts[name].veth / "statistics"
        return int((stats / "rx_bytes").read_text()) + int((stats / "tx_bytes").read_text())

    def dd_baseline(self, name, device):
        before, started = self.wire_bytes(name), time.perf_counter()
        with open("/dev/null", "wb") as sink:
            subprocess.run(self.argv(name, f"dd if={device} bs=4M status=none"), stdout=sink, check=True)
        return time.perf_counter() - started, self.wire_bytes(name) - before


def data_layout(disk_bytes, data_bytes, seed=20261204):
    """Which 512 KiB blocks hold data (random ones, the rest holes)."""
    rng = random.Random(seed)
    return sorted(rng.sample(range(disk_bytes // BLOCK), data_bytes // BLOCK))


def measure_pass(replication_module, replication, shell, host, label):
    from cloud.models import ReplicationPass

    before, started = shell.wire_bytes(host), time.perf_counter()
    replication_module.replicate(replication)
    seconds = time.perf_counter() - started
    wire = shell.wire_bytes(host) - before
    done = ReplicationPass.objects.filter(replication=replication).latest("pk")
    row = {"label": label, "seconds": seconds, "scanned": done.bytes_scanned, "wire": wire,
           "changed": done.blocks_sent * BLOCK, "method": done.method, "sent": done.bytes_sent}
    print(f"  {label:34} {seconds:7.2f} s  read at source {done.bytes_scanned / MB:8.1f} MB  on the wire "
          f"{wire / MB:8.1f} MB  changed/sent {done.bytes_sent / MB:7.1f} MB  "
          f"{done.bytes_scanned / MB / seconds:6.1f} MB/s read  ({done.method})")
    return row


def measure_rescan(source_ref, shell, host, label):
    """The old way: every allocated block read again and hashed by the worker (no CBT, no
    hashes on the source): what finding 1% of changes cost before."""
    import hashlib

    from hypervisors.services import disk_sources

    before, started = shell.wire_bytes(host), time.perf_counter()
    with disk_sources.open_source(source_ref) as source:
        for _index, data in source.blocks(BLOCK, {}):
            hashlib.sha256(data).digest()
        scanned = source.stats.bytes_scanned
    seconds = time.perf_counter() - started
    wire = shell.wire_bytes(host) - before
    print(f"  {label:34} {seconds:7.2f} s  read at source {scanned / MB:8.1f} MB  on the wire {wire / MB:8.1f} MB")
    return {"seconds": seconds, "scanned": scanned, "wire": wire}


def verdicts(name, full, incremental, baseline, cbt):
    dd_seconds, dd_wire = baseline
    print(f"  {'ssh dd if=DEVICE bs=4M > /dev/null':34} {dd_seconds:7.2f} s  on the wire {dd_wire / MB:8.1f} MB")
    ratio = full["seconds"] / dd_seconds
    print(f"  {name}: full pass / dd = {ratio:.2f} ({'meets' if ratio <= 1.3 else 'misses'} <= 1.3)")
    changed = max(incremental["changed"], 1)
    wire_ratio = incremental["wire"] / changed
    print(f"  {name}: incremental wire / changed = {wire_ratio:.2f} ({'meets' if wire_ratio <= 1.1 else 'misses'} "
          "<= 1.1)")
    if cbt:
        read_ratio = incremental["scanned"] / changed
        print(f"  {name}: incremental read at source / changed = {read_ratio:.2f} "
              f"({'meets' if read_ratio <= 1.1 else 'misses'} <= 1.1)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-mib", type=int, default=1024)
    parser.add_argument("--disk-gib", type=int, default=4)
    parser.add_argument("--changed", type=float, default=0.01, help="share of the data blocks changed")
    args = parser.parse_args()
    var_dir = setup_django("source_read")

    import libvirt
    import libvirt_qemu

    from access.models import SSHCredential
    from access.services import trust
    from cloud.models import CloudAccount
    from cloud.services import replication as replication_module
    from core.actions import SYSTEM
    from hypervisors.drivers import libvirt_driver as driver
    from hypervisors.lab import Lab
    from hypervisors.models import Hypervisor, VirtualMachine
    from hypervisors.services import sync
    from hypervisors.services.actions import domain_xml
    from hypervisors.services.disk_sources import DiskRef
    from inventory.models import Host, Site

    disk_bytes, data_bytes = args.disk_gib * 1024**3, args.data_mib * 1024**2
    blocks = data_layout(disk_bytes, data_bytes)
    changed = sorted(random.Random(7).sample(blocks, max(1, int(len(blocks) * args.changed))))
    lab = Lab(var_dir / "lab-source-read", net_index=249, names=("readhv",), physical=("readphys",),
              disk_size=disk_bytes)
    hosts = lab.up(log=lambda line: None)
    clouds = []

    def fresh_account(name):
        """A fresh embedded cloud per case: moto keeps every block in memory and slows as it fills."""
        if clouds:
            stop(clouds.pop())
        process, endpoint = start_cloud(var_dir / f"source_read_cloud_{name}.log")
        clouds.append(process)
        return CloudAccount.objects.create(name=f"Bench cloud {name}", region="us-east-1",
                                           access_key_id="AKIABENCHBENCH000000", secret_access_key="bench",
                                           endpoint_url=endpoint, is_embedded=True)

    shell = LabShell(lab, hosts)
    try:
        site = Site.objects.create(name="Bench", slug="bench")
        SSHCredential.objects.create(name="lab", username="root", private_key=lab.ssh_key.read_text(),
                                     is_default=True)
        inventory = {}
        for name, lab_host in hosts.items():
            inventory[name] = Host.objects.create(hostname=name, site=site, status="active",
                                                  mgmt_address=lab_host.address, cpu_cores=2, memory_mib=8192)
            trust.trust_public_key(inventory[name], lab_host.ssh_host_key, user=SYSTEM)
        print(f"Source: {disk_bytes / 1024**3:.0f} GiB holding {len(blocks)} blocks of 512 KiB of random data "
              f"({len(blocks) * BLOCK / MB:.0f} MB); {len(changed)} of them change ({args.changed:.0%})")

        # (a) a running VM, its qcow2 on the hypervisor's own storage
        hypervisor = Hypervisor.objects.create(host=inventory["readhv"], uri=hosts["readhv"].uri)
        writes = "\n".join(f"os.pwrite(fd, os.urandom({BLOCK}), {i * BLOCK})" for i in blocks)
        shell("readhv", f"mkdir -p {IMAGES} && python3 -c 'import os\nfd = os.open(\"/tmp/src.raw\", "
                        f"os.O_RDWR | os.O_CREAT)\nos.ftruncate(fd, {disk_bytes})\n{writes}' && "
                        f"qemu-img convert -f raw -O qcow2 /tmp/src.raw {IMAGES}/src.qcow2 && rm /tmp/src.raw")
        conn = libvirt.open(hypervisor.uri)
        dom = conn.defineXML(domain_xml("readvm", 1, 64, disk_path=f"{IMAGES}/src.qcow2", domain_uuid=uuid.uuid4()))
        dom.create()
        sync.sync_all()
        vm = VirtualMachine.objects.get(name="readvm")
        print("(a) running VM, qcow2 on its hypervisor's local storage, through libvirt:")
        vm_replication = replication_module.start_replication(fresh_account("vm"), DiskRef.for_vm(vm, "vda"),
                                                              name="vm")
        vm_full = measure_pass(replication_module, vm_replication, shell, "readhv", "full pass")
        hmp = libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP
        for n, index in enumerate(changed):
            libvirt_qemu.qemuMonitorCommand(
                dom, f'qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend '
                     f'"write -P {1 + n % 250} {index * BLOCK} {BLOCK}"', hmp)
        vm_incremental = measure_pass(replication_module, vm_replication, shell, "readhv",
                                      f"incremental after {args.changed:.0%} changed")
        measure_rescan(DiskRef.for_vm(vm, "vda"), shell, "readhv", "old way: re-read and hash all")
        vm_baseline = shell.dd_baseline("readhv", f"{IMAGES}/src.qcow2")
        verdicts("VM", vm_full, vm_incremental, vm_baseline, cbt=True)
        dom.destroy()
        conn.close()

        # (b) a physical host's block device over SSH
        device = f"/dev/{hosts['readphys'].disk_device}"
        print(f"(b) physical host, {device} ({disk_bytes / 1024**3:.0f} GiB, ext4 at /srv) over SSH:")
        shell("readphys", f"head -c {len(blocks) * BLOCK} /dev/urandom > /srv/data.bin && sync")
        host_replication = replication_module.start_replication(
            fresh_account("host"), DiskRef.for_host(inventory["readphys"], hosts["readphys"].disk_device), name="host")
        host_full = measure_pass(replication_module, host_replication, shell, "readphys", "full pass")
        offsets = " ".join(str(i * BLOCK) for i in range(len(changed)))
        shell("readphys", f"for o in {offsets}; do dd if=/dev/urandom of=/srv/data.bin bs={BLOCK} count=1 "
                          "seek=$o oflag=seek_bytes conv=notrunc status=none; done; sync")
        host_incremental = measure_pass(replication_module, host_replication, shell, "readphys",
                                        f"incremental after {args.changed:.0%} changed")
        measure_rescan(DiskRef.for_host(inventory["readphys"], hosts["readphys"].disk_device), shell, "readphys",
                       "old way: re-read and hash all")
        host_baseline = shell.dd_baseline("readphys", device)
        verdicts("host", host_full, host_incremental, host_baseline, cbt=False)
    finally:
        driver.forget_all()
        lab.down(log=lambda line: None)
        for process in clouds:
            stop(process)


if __name__ == "__main__":
    main()
