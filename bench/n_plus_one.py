"""Time the N+1 check (can each site lose its largest hypervisor?) on a synthetic estate.

    python bench/n_plus_one.py [--hypervisors 1000] [--sites 4] [--vms-per-hypervisor 10] [--repeat 5]

Builds the estate in a database of its own (see bench/benchsetup.py), then times what the
dashboard does (whatif.n_plus_one(): the estate loaded in a fixed number of queries, one
placement per site) and, for comparison, the thorough variant that plans the loss of
every hypervisor in turn. Prints wall times (median of --repeat) and query counts.
"""

import argparse
import random
import statistics
import time
import uuid

from benchsetup import setup_django


def build(hypervisors, sites, vms_per_hypervisor, seed=7):
    from hypervisors.models import Hypervisor, VirtualMachine
    from inventory.models import Host, Site

    rng = random.Random(seed)
    site_rows = Site.objects.bulk_create([Site(name=f"Site {n}", slug=f"s{n}") for n in range(sites)])
    hosts = Host.objects.bulk_create([
        Host(hostname=f"hv{n:05d}", site=site_rows[n % sites], status="spare" if n % 25 == 0 else "active",
             cpu_cores=32, memory_mib=512 * 1024)
        for n in range(hypervisors)
    ])
    hvs = Hypervisor.objects.bulk_create([
        Hypervisor(host=host, uri=f"test+tcp://127.0.0.1:1/{host.hostname}", shared_storage=True) for host in hosts
    ])
    VirtualMachine.objects.bulk_create([
        VirtualMachine(uuid=uuid.uuid4(), name=f"{hv.host.hostname}-vm{i}", hypervisor=hv, state="running",
                       vcpus=rng.choice([1, 2, 4, 8]), memory_mib=rng.choice([2048, 4096, 8192, 16384, 32768]),
                       ha_enabled=i % 2 == 0, anti_affinity_group=f"cluster{n // 4}" if i == 0 else "")
        for n, hv in enumerate(hvs) if hv.host.status == "active" for i in range(vms_per_hypervisor)
    ], batch_size=2000)


def timed(work, repeat):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, queries, result = [], 0, None
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            result = work()
            times.append(time.perf_counter() - start)
        queries = len(captured.captured_queries)
    return statistics.median(times), queries, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hypervisors", type=int, default=1000)
    parser.add_argument("--sites", type=int, default=4)
    parser.add_argument("--vms-per-hypervisor", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    setup_django("n_plus_one")
    from hypervisors.services import whatif

    build(args.hypervisors, args.sites, args.vms_per_hypervisor)
    print(f"estate: {args.hypervisors} hypervisors over {args.sites} sites, "
          f"{args.vms_per_hypervisor} VMs on each active one (half HA)")

    seconds, queries, checks = timed(whatif.n_plus_one, args.repeat)
    print(f"N+1 check (largest host per site, what the dashboard runs): {seconds * 1000:.0f} ms, {queries} queries, "
          f"{len(whatif.sites_at_risk(checks))} site(s) at risk")

    def every_host():
        estate = whatif.load_estate()
        return [whatif.what_if(estate, {hv.pk}) for hv in estate.hypervisors() if hv.host.status == "active"]

    seconds, queries, results = timed(every_host, max(1, args.repeat // 5))
    print(f"thorough variant (the loss of each of {len(results)} active hypervisors planned in turn): "
          f"{seconds:.1f} s, {queries} queries, {sum(not r.survives for r in results)} not survivable")


if __name__ == "__main__":
    main()
