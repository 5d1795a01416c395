"""Dependencies between workloads and the waves they make.

Workloads linked by dependencies (in either direction) form one connected component and
move in the same wave; inside a wave a dependency moves first (a topological order; a
cycle moves together, in name order). Waves an operator edits by hand are checked: a
workload may not move before what it depends on.

    groups = group_into_waves(keys, edges, names)     # [[key, ...], ...] in wave order
    apply_waves(plan)                                 # the plan's Wave rows from its dependencies
    violations(plan)                                  # ["luna (wave 1) depends on batman (wave 2)", ...]
"""

from collections import defaultdict

from django.db import transaction
from django.db.models import Q

from ..models import Dependency, PlannedWorkload, Wave


def dependency_edges(keys):
    """[(source key, target key)] of the recorded dependencies among `keys` (one query)."""
    keys = set(keys)
    host_ids = [i for kind, i in keys if kind == "host"]
    vm_ids = [i for kind, i in keys if kind == "vm"]
    rows = Dependency.objects.filter(Q(source_host_id__in=host_ids) | Q(source_vm_id__in=vm_ids)).values_list(
        "source_host_id", "source_vm_id", "target_host_id", "target_vm_id")
    edges = []
    for source_host, source_vm, target_host, target_vm in rows:
        source = ("vm", source_vm) if source_vm else ("host", source_host)
        target = ("vm", target_vm) if target_vm else ("host", target_host)
        if source in keys and target in keys:
            edges.append((source, target))
    return edges


def components(keys, edges):
    """Connected components of the undirected graph (union-find)."""
    parent = {key: key for key in keys}

    def root(key):
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for source, target in edges:
        parent[root(source)] = root(target)
    groups = defaultdict(list)
    for key in keys:
        groups[root(key)].append(key)
    return list(groups.values())


def dependency_order(keys, edges, names):
    """`keys` with every dependency before its dependents (Kahn's algorithm; ties and
    cycles in name order)."""
    keys = sorted(keys, key=lambda k: (names.get(k, ""), k))
    members = set(keys)
    waiting = {key: 0 for key in keys}
    dependents = defaultdict(list)
    for source, target in edges:
        if source in members and target in members and source != target:
            waiting[source] += 1  # the source waits for its target
            dependents[target].append(source)
    ordered, done = [], set()
    while len(ordered) < len(keys):
        ready = [k for k in keys if k not in done and waiting[k] == 0]
        if not ready:  # a cycle: take the first left, it moves with the others
            ready = [next(k for k in keys if k not in done)]
        for key in ready[:1]:
            ordered.append(key)
            done.add(key)
            for dependent in dependents[key]:
                waiting[dependent] -= 1
    return ordered


def group_into_waves(keys, edges, names):
    """Waves (lists of keys, each in dependency order): one per connected component,
    the biggest groups first (they take the longest to prepare), then by name."""
    groups = [dependency_order(group, edges, names) for group in components(keys, edges)]
    groups.sort(key=lambda group: (-len(group), names.get(group[0], "")))
    return groups


def plan_graph(plan):
    workloads = list(plan.workloads.all())
    by_key = {w.workload_key: w for w in workloads}
    return by_key, dependency_edges(by_key)


@transaction.atomic
def apply_waves(plan):
    """Replace the plan's waves with those its dependencies make. Returns the waves."""
    by_key, edges = plan_graph(plan)
    names = {key: w.name for key, w in by_key.items()}
    PlannedWorkload.objects.filter(plan=plan).update(wave=None)
    plan.waves.all().delete()
    waves = []
    for number, group in enumerate(group_into_waves(list(by_key), edges, names), start=1):
        wave = Wave.objects.create(plan=plan, number=number, name=_wave_name(group, names))
        PlannedWorkload.objects.filter(pk__in=[by_key[key].pk for key in group]).update(wave=wave)
        waves.append(wave)
    return waves


def _wave_name(group, names):
    first = names.get(group[0], "?")
    return first if len(group) == 1 else f"{first} and {len(group) - 1} more"


def violations(plan):
    """Dependencies the plan's waves break: a workload in an earlier wave than what it
    depends on, or in a wave while its dependency is in none."""
    by_key, edges = plan_graph(plan)
    problems = []
    for source, target in edges:
        mover, needed = by_key[source], by_key[target]
        if mover.wave_id is None or needed.wave_id is None:
            if mover.wave_id != needed.wave_id:
                problems.append(f"{mover.name} and {needed.name} depend on each other but only one is in a wave")
            continue
        if mover.wave.number < needed.wave.number:
            problems.append(f"{mover.name} (wave {mover.wave.number}) depends on {needed.name}, "
                            f"which moves later (wave {needed.wave.number})")
    return problems


def ordered_workloads(plan, wave=None):
    """The plan's workloads (of one wave, or all) in the order they move: wave by wave,
    dependencies first."""
    by_key, edges = plan_graph(plan)
    names = {key: w.name for key, w in by_key.items()}
    chosen = [w for w in by_key.values() if wave is None or w.wave_id == wave.pk]
    by_wave = defaultdict(list)
    for w in chosen:
        by_wave[w.wave.number if w.wave_id else 10**9].append(w.workload_key)
    ordered = []
    for number in sorted(by_wave):
        ordered.extend(by_key[key] for key in dependency_order(by_wave[number], edges, names))
    return ordered
