"""Live-migrate one lab guest back and forth: through our service (a Job, the VM lock,
progress polling, the libvirt check of where it landed) and with a bare libvirt
migrate call, alternating, and print the ratio of median wall times. Target: < 1.15.

    python bench/migration.py [--rounds 5] [--memory 256]
"""

import argparse
import statistics
import time

from benchsetup import setup_django


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory", type=int, default=256, help="guest memory in MiB")
    args = parser.parse_args()
    var_dir = setup_django("migration")

    import libvirt

    from core.jobs import create_job, run_job
    from core.models import Job
    from hypervisors.drivers import libvirt_driver as driver
    from hypervisors.lab import Lab
    from hypervisors.models import Hypervisor, VirtualMachine
    from hypervisors.services import migration, sync
    from hypervisors.services.actions import domain_xml
    from inventory.models import Host, Site

    lab = Lab(var_dir / "lab-migration", net_index=252, names=("benchsrc", "benchdst"))
    hosts = lab.up(log=lambda line: None)
    conns = {}
    try:
        site = Site.objects.create(name="Bench", slug="bench")
        hvs = {}
        for name, lab_host in hosts.items():
            host = Host.objects.create(hostname=name, site=site, status="active", cpu_cores=2, memory_mib=8192)
            hvs[name] = Hypervisor.objects.create(host=host, uri=lab_host.uri, shared_storage=True)
        conns = {name: libvirt.open(hv.uri) for name, hv in hvs.items()}
        dom = conns["benchsrc"].defineXML(domain_xml("benchguest", 1, args.memory))
        dom.create()
        guest = dom.UUIDString()
        time.sleep(2)  # let the guest's firmware settle
        sync.sync_all()

        flags = migration.migration_flags(hvs["benchsrc"], hvs["benchdst"], migration.MigrationOptions())
        ours, bare = [], []
        where = "benchsrc"
        for round_number in range(args.rounds * 2):
            there = "benchdst" if where == "benchsrc" else "benchsrc"
            started = time.perf_counter()
            if round_number % 2 == 0:
                vm = VirtualMachine.objects.select_related("hypervisor__host").get(uuid=guest)
                job = create_job("hypervisors.live_migrate", "bench")
                run_job(job.pk, lambda j, rec, vm=vm, there=there: migration.live_migrate(vm, hvs[there], j, rec))
                job.refresh_from_db()
                assert job.state == Job.State.SUCCEEDED, job.message
                ours.append(time.perf_counter() - started)
            else:
                dom = conns[where].lookupByUUIDString(guest)
                dom.migrate3(conns[there], {libvirt.VIR_MIGRATE_PARAM_URI: migration.migration_uri(hvs[there])}, flags)
                bare.append(time.perf_counter() - started)
                sync.sync_all()  # not timed: keep our records true for the next service round
            where = there
        ratio = statistics.median(ours) / statistics.median(bare)
        print(f"live migration of a {args.memory} MiB TCG guest, {args.rounds} rounds each, alternating:")
        print(f"  our service : median {statistics.median(ours):.2f} s  ({', '.join(f'{t:.2f}' for t in ours)})")
        print(f"  bare libvirt: median {statistics.median(bare):.2f} s  ({', '.join(f'{t:.2f}' for t in bare)})")
        print(f"  ratio ours/bare: {ratio:.3f} (target < 1.15)")
        dom = conns[where].lookupByUUIDString(guest)
        dom.destroy()
        dom.undefine()
    finally:
        # Closed while the hosts still answer: a connection to a host already gone hangs at exit.
        for conn in conns.values():
            conn.close()
        driver.forget_all()
        lab.down(log=lambda line: None)


if __name__ == "__main__":
    main()
