"""Read a lab VM's disk through the "vm" disk source (hypervisors.services.vm_disk_source):
a running guest with a 4 GiB qcow2 holding --data-mib of data on its hypervisor's own
storage, read in full (a libvirt pull backup, NBD over the SSH tunnel), then incrementally
after the guest wrote 16 MiB (changed-block tracking), then shut off through qemu-nbd;
last, how long a read takes to give up when the hypervisor is partitioned. Prints
seconds and MB/s (of bytes read through NBD). No target is set; the point is the figures.

    python bench/vm_disk_source.py [--data-mib 1024] [--block-mib 4]
"""

import argparse
import subprocess
import time
import uuid

from benchsetup import setup_django

LOCAL = "/var/lib/libvirt/images"
MiB = 1024 * 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-mib", type=int, default=1024)
    parser.add_argument("--block-mib", type=int, default=4)
    args = parser.parse_args()
    var_dir = setup_django("vm_disk_source")

    import libvirt
    import libvirt_qemu

    from access.models import SSHCredential
    from access.services import trust
    from core.actions import SYSTEM
    from hypervisors.drivers import libvirt_driver as driver
    from hypervisors.lab import Lab
    from hypervisors.models import Hypervisor, VirtualMachine
    from hypervisors.services import sync, vm_disk_source
    from hypervisors.services.actions import domain_xml
    from hypervisors.services.disk_sources import DiskRef, DiskSourceError
    from inventory.models import Host, Site

    lab = Lab(var_dir / "lab-vmsrc", net_index=255, names=("srchv",))
    hosts = lab.up(log=lambda line: None)
    block = args.block_mib * MiB

    def ssh(script):
        return subprocess.run(["ssh", "-i", str(lab.ssh_key), "-o", "StrictHostKeyChecking=no", "-o",
                               "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
                               f"root@{hosts['srchv'].address}", script], check=True, capture_output=True,
                              text=True).stdout

    def timed_pass(vm, since=""):
        started = time.perf_counter()
        with vm_disk_source.open_source(DiskRef.for_vm(vm, "vda"), since=since) as source:
            count = sum(1 for _ in source.blocks(block, {}))
            source.finished(ok=True)
        seconds = time.perf_counter() - started
        read = source.stats.bytes_scanned
        print(f"  {source.stats.method:24} {count:5} blocks, {read // MiB:5} MiB read in {seconds:6.2f} s "
              f"({read / seconds / 1e6:7.1f} MB/s, open and close included)")
        return source

    try:
        site = Site.objects.create(name="Bench", slug="bench")
        SSHCredential.objects.create(name="lab", username="root", private_key=lab.ssh_key.read_text(),
                                     is_default=True)
        lab_host = hosts["srchv"]
        host = Host.objects.create(hostname="srchv", site=site, status="active", cpu_cores=2, memory_mib=8192)
        hypervisor = Hypervisor.objects.create(host=host, uri=lab_host.uri)
        trust.trust_public_key(host, lab_host.ssh_host_key, user=SYSTEM)
        path = f"{LOCAL}/bench.qcow2"
        ssh(f"mkdir -p {LOCAL} && rm -f {LOCAL}/* && qemu-img create -q -f qcow2 {path} 4G && "
            f"qemu-io -f qcow2 -c 'write -P 0x5a 0 {args.data_mib}M' {path} >/dev/null")
        conn = libvirt.open(hypervisor.uri)
        dom = conn.defineXML(domain_xml("bench", 1, 64, disk_path=path, disk_format="qcow2",
                                        domain_uuid=uuid.uuid4()))
        dom.create()
        sync.sync_all()
        vm = VirtualMachine.objects.get(uuid=dom.UUIDString())

        print(f"vm disk source: 4 GiB qcow2 with {args.data_mib} MiB of data, {args.block_mib} MiB blocks")
        print(" running (libvirt pull backup):")
        first = timed_pass(vm)
        libvirt_qemu.qemuMonitorCommand(dom, 'qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend '
                                        '"write -P 0x33 64M 16M"', libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)
        second = timed_pass(vm, since=first.checkpoint)
        dom.destroy()
        print(" shut off (qemu-nbd):")
        timed_pass(vm, since=second.checkpoint)
        timed_pass(vm)

        dom.create()
        source = vm_disk_source.open_source(DiskRef.for_vm(vm, "vda"))
        blocks = source.blocks(block, {})
        next(blocks)
        lab.partition("srchv")
        started = time.perf_counter()
        try:
            for _ in blocks:
                pass
            print(" partition: the read finished before it bit (more data needed)")
        except DiskSourceError as exc:
            print(f" partition mid-read: DiskSourceError(gone={exc.gone}) after {time.perf_counter() - started:.1f} s")
        finally:
            started = time.perf_counter()
            source.close()
            print(f"  close() with the hypervisor unreachable: {time.perf_counter() - started:.1f} s")
            lab.heal("srchv")
        conn.close()
    finally:
        driver.forget_all()
        lab.down(log=lambda line: None)


if __name__ == "__main__":
    main()
