"""Cold-migrate a shut-off lab guest whose local disk is thin (a 1 GiB raw file holding
256 MiB of data) between two lab hypervisors through our service (a Job: SSH from source
to this machine to target, data extents only, sha256 on both hosts, define, undefine),
and copy the same file with `scp -3` (also through this machine, every byte), alternating.
Prints the bytes each one moved and the median wall times. No target is set by an issue;
the point is what a thin disk costs.

    python bench/cold_migration.py [--rounds 3] [--disk-mib 1024] [--data-mib 256]
"""

import argparse
import statistics
import subprocess
import time
import uuid

from benchsetup import setup_django

LOCAL = "/var/lib/libvirt/images"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--disk-mib", type=int, default=1024)
    parser.add_argument("--data-mib", type=int, default=256)
    args = parser.parse_args()
    var_dir = setup_django("cold_migration")

    import libvirt

    from access.models import SSHCredential
    from access.services import trust
    from core.actions import SYSTEM
    from core.jobs import create_job, run_job
    from core.models import Job
    from hypervisors.drivers import libvirt_driver as driver
    from hypervisors.lab import Lab
    from hypervisors.models import Hypervisor, VirtualMachine
    from hypervisors.services import migration, sync
    from hypervisors.services.actions import domain_xml
    from inventory.models import Host, Site

    lab = Lab(var_dir / "lab-cold", net_index=251, names=("coldsrc", "colddst"))
    hosts = lab.up(log=lambda line: None)

    def ssh(name, script):
        return subprocess.run(["ssh", *ssh_options(lab), f"root@{hosts[name].address}", script],
                              check=True, capture_output=True, text=True).stdout

    try:
        site = Site.objects.create(name="Bench", slug="bench")
        SSHCredential.objects.create(name="lab", username="root", private_key=lab.ssh_key.read_text(),
                                     is_default=True)
        hvs = {}
        for name, lab_host in hosts.items():
            host = Host.objects.create(hostname=name, site=site, status="active", mgmt_address=lab_host.address,
                                       cpu_cores=2, memory_mib=8192)
            hvs[name] = Hypervisor.objects.create(host=host, uri=lab_host.uri,
                                                  shared_storage_path=str(lab.shared_storage))
            trust.trust_public_key(host, lab_host.ssh_host_key, user=SYSTEM)
            ssh(name, f"mkdir -p {LOCAL} && rm -f {LOCAL}/*")
        path = f"{LOCAL}/thin.img"
        ssh("coldsrc", f"head -c {args.data_mib}M /dev/urandom > {path} && truncate -s {args.disk_mib}M {path}")
        conn = libvirt.open(hvs["coldsrc"].uri)
        guest = conn.defineXML(domain_xml("thin", 1, 64, disk_path=path, disk_format="raw",
                                          domain_uuid=uuid.uuid4())).UUIDString()
        conn.close()
        sync.sync_all()

        ours, scp = [], []
        where = "coldsrc"
        for _ in range(args.rounds):
            there = "colddst" if where == "coldsrc" else "coldsrc"
            vm = VirtualMachine.objects.select_related("hypervisor__host").get(uuid=guest)
            job = create_job("hypervisors.cold_migrate", "bench")
            started = time.perf_counter()
            run_job(job.pk, lambda j, rec, vm=vm, there=there: migration.cold_migrate(vm, hvs[there], j, rec))
            ours.append(time.perf_counter() - started)
            job.refresh_from_db()
            assert job.state == Job.State.SUCCEEDED, job.message
            # The same file, every byte, through this machine as well (then removed again).
            started = time.perf_counter()
            subprocess.run(["scp", "-3", "-q", *ssh_options(lab), f"root@{hosts[there].address}:{path}",
                            f"root@{hosts[where].address}:{path}.scp"], check=True)
            scp.append(time.perf_counter() - started)
            ssh(where, f"rm -f {path}.scp")
            where = there
        sent = [line for line in job.log.splitlines() if "MiB of data in" in line][-1].split("SSH: ", 1)[1]
        print(f"cold migration of a shut-off guest, one local raw disk: {sent}; {args.rounds} rounds each")
        print(f"  our service: median {statistics.median(ours):.2f} s  ({', '.join(f'{t:.2f}' for t in ours)}); "
              f"copy, sha256 on both hosts, define, undefine")
        print(f"  scp -3     : median {statistics.median(scp):.2f} s  ({', '.join(f'{t:.2f}' for t in scp)}); "
              f"copy only, {args.disk_mib} MiB")
        print(f"  ratio ours/scp: {statistics.median(ours) / statistics.median(scp):.2f}")
    finally:
        driver.forget_all()
        lab.down(log=lambda line: None)


def ssh_options(lab):
    return ["-i", str(lab.ssh_key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]


if __name__ == "__main__":
    main()
