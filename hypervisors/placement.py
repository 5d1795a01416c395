"""The placement planner: where should these VMs go?

A pure function over plain values, so it can be tested exhaustively (hypothesis) and
reused by maintenance mode, HA restarts and migration plans. It never overfills a
host (vCPU and memory under the overcommit ratios already folded into capacities)
and never puts two VMs of one anti-affinity group on the same host.

Policies:
- "spread": each VM goes where the most memory stays free (worst fit), to even the load;
- "pack": spares first, then the host where the VM fits tightest (best fit), to keep
  whole hosts free.
Large VMs are placed first (first-fit decreasing), which keeps packing close to the bound.
"""

import heapq
from dataclasses import dataclass, field

SPREAD, PACK = "spread", "pack"


@dataclass(frozen=True)
class Demand:
    key: object
    vcpus: int
    memory_mib: int
    group: str = ""  # anti-affinity group, "" for none
    source: object = None  # the host it runs on now: never a target


@dataclass
class Capacity:
    key: object
    vcpus: int  # capacity under the overcommit ratio
    memory_mib: int
    used_vcpus: int = 0
    used_memory_mib: int = 0
    groups: set = field(default_factory=set)  # anti-affinity groups already there
    spare: bool = False

    @property
    def free_vcpus(self):
        return self.vcpus - self.used_vcpus

    @property
    def free_memory_mib(self):
        return self.memory_mib - self.used_memory_mib


@dataclass
class Plan:
    assignments: dict = field(default_factory=dict)  # demand key -> host key
    unplaced: dict = field(default_factory=dict)  # demand key -> reason

    @property
    def complete(self):
        return not self.unplaced


def plan_placement(demands, hosts, policy=SPREAD):
    if policy not in (SPREAD, PACK):
        raise ValueError(f"unknown placement policy {policy!r}")
    hosts = {h.key: Capacity(h.key, h.vcpus, h.memory_mib, h.used_vcpus, h.used_memory_mib, set(h.groups), h.spare)
             for h in hosts}
    chooser = _Spread(hosts) if policy == SPREAD else _Pack(hosts)
    plan = Plan()
    size = _dominant_share(hosts.values())
    for demand in sorted(demands, key=size, reverse=True):
        host = chooser.choose(demand)
        if host is None:
            plan.unplaced[demand.key] = explain(demand, hosts.values())
            continue
        chooser.take(host, demand)
        plan.assignments[demand.key] = host.key
    return plan


def _dominant_share(hosts):
    """Sort key: a demand's share of an average host on the resource that binds it most,
    so vCPU-heavy and memory-heavy VMs are both placed largest first."""
    hosts = list(hosts)
    cpus = (sum(h.vcpus for h in hosts) / len(hosts)) if hosts else 1
    memory = (sum(h.memory_mib for h in hosts) / len(hosts)) if hosts else 1
    return lambda d: (max(d.vcpus / (cpus or 1), d.memory_mib / (memory or 1)), str(d.key))


def _fits(host, demand):
    return (
        host.key != demand.source
        and host.free_memory_mib >= demand.memory_mib
        and host.free_vcpus >= demand.vcpus
        and not (demand.group and demand.group in host.groups)
    )


def _take(host, demand):
    host.used_vcpus += demand.vcpus
    host.used_memory_mib += demand.memory_mib
    if demand.group:
        host.groups.add(demand.group)


class _Spread:
    """Max-heap on free memory: the roomiest host that fits wins."""

    def __init__(self, hosts):
        self.heap = [(-h.free_memory_mib, -h.free_vcpus, str(h.key), h) for h in hosts.values()]
        heapq.heapify(self.heap)

    def choose(self, demand):
        skipped, found = [], None
        while self.heap:
            entry = heapq.heappop(self.heap)
            host = entry[3]
            if host.free_memory_mib < demand.memory_mib:
                skipped.append(entry)
                break  # nobody further down has more memory
            if _fits(host, demand):
                found = host
                break
            skipped.append(entry)
        for entry in skipped:
            heapq.heappush(self.heap, entry)
        return found

    def take(self, host, demand):
        _take(host, demand)
        heapq.heappush(self.heap, (-host.free_memory_mib, -host.free_vcpus, str(host.key), host))


class _Pack:
    """First fit over a fixed order (spares first, then the largest hosts), dropping
    hosts that have run out: with demands sorted largest first this is first-fit
    decreasing, which stays close to the fewest hosts possible."""

    def __init__(self, hosts):
        ordered = sorted(hosts.values(), key=lambda h: (not h.spare, -h.memory_mib, -h.vcpus, str(h.key)))
        self.open = [h for h in ordered if h.free_vcpus > 0 and h.free_memory_mib > 0]

    def choose(self, demand):
        for host in self.open:
            if _fits(host, demand):
                return host
        return None

    def take(self, host, demand):
        _take(host, demand)
        if host.free_vcpus <= 0 or host.free_memory_mib <= 0:
            self.open.remove(host)


def explain(demand, hosts):
    """Why a VM could not be placed, in words an operator can act on."""
    candidates = [h for h in hosts if h.key != demand.source]
    if not candidates:
        return "no candidate hypervisor (enabled, active or spare, same site, not its own)"
    most_memory = max(h.free_memory_mib for h in candidates)
    if most_memory < demand.memory_mib:
        return f"needs {demand.memory_mib} MiB of memory; the most any candidate has free is {most_memory} MiB"
    roomy = [h for h in candidates if h.free_memory_mib >= demand.memory_mib]
    most_cpus = max(h.free_vcpus for h in roomy)
    if most_cpus < demand.vcpus:
        return (f"needs {demand.vcpus} vCPUs; hypervisors with enough memory have at most {most_cpus} "
                "vCPUs free under their overcommit ratio")
    return (f"anti-affinity group '{demand.group}' already has a VM on every hypervisor with room "
            f"({', '.join(sorted(str(h.key) for h in roomy))})")
