"""Plan 10,000 VMs onto 1,000 hypervisors with both policies.

Prints the planning time and the number of hypervisors used against the lower bound
ceil(total demand / host capacity) on the binding resource. Target: under 1 s.

    python bench/placement.py [--vms 10000] [--hosts 1000] [--seed 7]
"""

import argparse
import math
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypervisors.placement import PACK, SPREAD, Capacity, Demand, plan_placement  # noqa: E402

HOST_VCPUS, HOST_MEMORY_MIB = 64, 256 * 1024  # 16 cores at 4x overcommit, 256 GiB


def estate(vm_count, host_count, seed):
    rng = random.Random(seed)
    hosts = [Capacity(f"hv{i:04d}", HOST_VCPUS, HOST_MEMORY_MIB) for i in range(host_count)]
    demands = [
        Demand(
            f"vm{i:05d}",
            rng.choice([1, 2, 2, 4, 4, 8]),
            rng.choice([1024, 2048, 4096, 4096, 8192, 16384, 32768]),
            # one VM in three belongs to a small anti-affinity group (a 4-node cluster)
            group=f"cluster{i // 12}" if i % 3 == 0 else "",
        )
        for i in range(vm_count)
    ]
    return hosts, demands


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    hosts, demands = estate(args.vms, args.hosts, args.seed)
    bound = max(
        math.ceil(sum(d.vcpus for d in demands) / HOST_VCPUS),
        math.ceil(sum(d.memory_mib for d in demands) / HOST_MEMORY_MIB),
    )
    print(f"placement: {args.vms} VMs onto {args.hosts} hypervisors ({HOST_VCPUS} vCPU, {HOST_MEMORY_MIB // 1024} GiB each)")
    print(f"lower bound on hypervisors needed: {bound}")
    for policy in (SPREAD, PACK):
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            plan = plan_placement(demands, hosts, policy)
            times.append(time.perf_counter() - started)
        used = len(set(plan.assignments.values()))
        print(f"  {policy:6s}: median {statistics.median(times):.3f} s (max {max(times):.3f} s), "
              f"hosts used {used} (bound {bound}, {used / bound:.3f}x), unplaced {len(plan.unplaced)}")


if __name__ == "__main__":
    main()
