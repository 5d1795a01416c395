"""Assess and cost 5,000 VMs: strategy, sizing and monthly cost of each.

Creates the estate in its own database (bench/benchsetup.py), a third of the VMs with
health metrics (hourly aggregates over 20 days: their utilisation comes from the health
app), then times migrations_tool.services.assessment.assess() on all of them, loading
the workloads included. Target: under 2 s.

    python bench/assessment.py [--vms 5000] [--repeat 3]
"""

import argparse
import random
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchsetup import setup_django  # noqa: E402


def build_estate(vm_count, seed):
    from django.utils import timezone

    from cloud.models import OnPremCostModel
    from health.models import CheckAggregate
    from hypervisors.models import Hypervisor, VirtualMachine
    from inventory.models import Host, Role, Site, Tag

    rng = random.Random(seed)
    site = Site.objects.create(name="Bench", slug="bench")
    roles = {slug: Role.objects.create(name=slug.title(), slug=slug) for slug in ("app", "db", "web", "hypervisor")}
    prod = Tag.objects.create(name="prod", slug="prod")
    OnPremCostModel.objects.create(name="VM", kind="vm", hardware_amortisation=40, power=10, rack=5, licences=20)
    hv_hosts = Host.objects.bulk_create([Host(hostname=f"hv{i:03d}", site=site, role=roles["hypervisor"],
                                              status="active", cpu_cores=64, memory_mib=512 * 1024)
                                         for i in range(100)])
    hypervisors = Hypervisor.objects.bulk_create([Hypervisor(host=h, uri=f"qemu+ssh://root@{h.hostname}/system")
                                                  for h in hv_hosts])
    # One in three VMs has an inventory host record measured by the health checks.
    measured_hosts = Host.objects.bulk_create([Host(hostname=f"svc{i:05d}", site=site, status="active", cpu_cores=4,
                                                    memory_mib=8192) for i in range(vm_count // 3)])
    vms = []
    for i in range(vm_count):
        role = rng.choice(["app", "app", "web", "db"])
        vms.append(VirtualMachine(
            uuid=uuid.uuid4(), name=f"vm{i:05d}", hypervisor=hypervisors[i % len(hypervisors)], state="running",
            vcpus=rng.choice([1, 2, 4, 8, 16]), memory_mib=rng.choice([2048, 4096, 8192, 16384, 32768]),
            disks=[{"path": f"/var/lib/libvirt/images/vm{i:05d}.qcow2", "size_bytes": rng.choice([20, 50, 100]) * 1024**3}],
            role=roles[role], inventory_host=measured_hosts[i // 3] if i % 3 == 0 and i // 3 < len(measured_hosts) else None,
        ))
    vms = VirtualMachine.objects.bulk_create(vms, batch_size=1000)
    VirtualMachine.tags.through.objects.bulk_create(
        [VirtualMachine.tags.through(virtualmachine_id=vm.pk, tag_id=prod.pk) for vm in vms[::2]], batch_size=2000)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    aggregates = []
    for host in measured_hosts:
        load = rng.uniform(0.01, 3.0)
        for hours_ago in range(0, 20 * 24, 12):  # 40 points over 20 days
            aggregates.append(CheckAggregate(host=host, check_type="metrics", hour=now - timedelta(hours=hours_ago),
                                             runs=60, value={"load1": load * 1.2, "load5": load,
                                                             "mem_used_pct": rng.uniform(20, 90)}))
    CheckAggregate.objects.bulk_create(aggregates, batch_size=5000)
    return [vm.pk for vm in vms]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    setup_django("assessment")
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from cloud.services.workloads import load_workloads
    from migrations_tool.services.assessment import assess

    started = time.perf_counter()
    vm_ids = build_estate(args.vms, args.seed)
    print(f"assessment: estate of {len(vm_ids)} VMs built in {time.perf_counter() - started:.1f} s "
          f"({connection.vendor})")
    times = []
    for _ in range(args.repeat):
        reset_queries()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            assessment = assess(load_workloads(vm_ids=vm_ids))
            times.append(time.perf_counter() - started)
    total = sum((item.aws_monthly or 0) for item in assessment.items)
    print(f"strategies: {assessment.by_strategy}")
    print(f"utilisation used: {assessment.utilisation_sources}")
    print(f"AWS monthly total: {total:.2f} {assessment.prices.currency}; queries per assessment: {len(queries)}")
    print(f"assess and cost {len(assessment.items)} VMs: best {min(times):.3f} s, worst {max(times):.3f} s "
          f"(first run {times[0]:.3f} s) — target < 2 s: {'OK' if max(times) < 2 else 'MISSED'}")


if __name__ == "__main__":
    main()
