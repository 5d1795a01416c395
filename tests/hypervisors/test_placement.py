"""The placement planner is pure: property-based tests over random estates."""

from collections import Counter, defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hypervisors.placement import PACK, SPREAD, Capacity, Demand, plan_placement

hosts_strategy = st.lists(
    st.builds(
        lambda i, cpus, mem, used_c, used_m, spare: Capacity(
            f"hv{i}", cpus, mem, min(used_c, cpus), min(used_m, mem), set(), spare),
        st.integers(0, 10_000), st.integers(1, 64), st.integers(512, 65536),
        st.integers(0, 64), st.integers(0, 65536), st.booleans(),
    ),
    min_size=0, max_size=12, unique_by=lambda h: h.key,
)
demands_strategy = st.lists(
    st.builds(
        lambda i, cpus, mem, group, source: Demand(f"vm{i}", cpus, mem, group, source),
        st.integers(0, 10_000), st.integers(1, 16), st.integers(64, 32768),
        st.sampled_from(["", "", "db", "web", "dc"]), st.sampled_from([None, "hv1", "hv2"]),
    ),
    max_size=40, unique_by=lambda d: d.key,
)


@settings(max_examples=300, deadline=None)
@given(hosts=hosts_strategy, demands=demands_strategy, policy=st.sampled_from([SPREAD, PACK]))
def test_no_plan_overfills_a_host_or_breaks_anti_affinity(hosts, demands, policy):
    plan = plan_placement(demands, hosts, policy)
    by_key = {h.key: h for h in hosts}
    demand_of = {d.key: d for d in demands}

    assert set(plan.assignments) | set(plan.unplaced) == set(demand_of)
    assert not set(plan.assignments) & set(plan.unplaced)
    added_cpus, added_mem, groups = Counter(), Counter(), defaultdict(list)
    for vm, host in plan.assignments.items():
        demand = demand_of[vm]
        assert host != demand.source, "a VM was planned onto the host it is leaving"
        added_cpus[host] += demand.vcpus
        added_mem[host] += demand.memory_mib
        if demand.group:
            groups[(host, demand.group)].append(vm)
    for key, cpus in added_cpus.items():
        assert by_key[key].used_vcpus + cpus <= by_key[key].vcpus
        assert by_key[key].used_memory_mib + added_mem[key] <= by_key[key].memory_mib
    assert all(len(vms) == 1 for vms in groups.values()), "two VMs of one anti-affinity group share a host"
    for reason in plan.unplaced.values():
        assert reason  # every refusal says why


@settings(max_examples=200, deadline=None)
@given(hosts=hosts_strategy, demands=demands_strategy)
def test_inputs_are_left_untouched(hosts, demands):
    before = [(h.used_vcpus, h.used_memory_mib, set(h.groups)) for h in hosts]
    plan_placement(demands, hosts, PACK)
    assert before == [(h.used_vcpus, h.used_memory_mib, set(h.groups)) for h in hosts]


def test_a_vm_too_big_for_every_host_is_explained():
    plan = plan_placement([Demand("big", 2, 8192)], [Capacity("a", 16, 4096), Capacity("b", 16, 6000, 0, 1000)])
    assert plan.assignments == {}
    assert plan.unplaced["big"] == "needs 8192 MiB of memory; the most any candidate has free is 5000 MiB"


def test_vcpu_shortage_is_explained():
    plan = plan_placement([Demand("wide", 8, 512)], [Capacity("a", 4, 4096)])
    assert "needs 8 vCPUs" in plan.unplaced["wide"]


def test_anti_affinity_is_explained_and_honoured():
    hosts = [Capacity("a", 8, 4096), Capacity("b", 8, 4096)]
    demands = [Demand(f"web{i}", 1, 256, group="web") for i in range(3)]
    plan = plan_placement(demands, hosts, SPREAD)
    assert sorted(plan.assignments.values()) == ["a", "b"]
    (reason,) = plan.unplaced.values()
    assert reason.startswith("anti-affinity group 'web' already has a VM on every hypervisor with room")


def test_no_candidates_is_explained():
    plan = plan_placement([Demand("x", 1, 256, source="a")], [Capacity("a", 8, 4096)])
    assert plan.unplaced["x"].startswith("no candidate hypervisor")


def test_spread_evens_the_load_and_pack_prefers_spares():
    hosts = [Capacity("a", 8, 8192), Capacity("b", 8, 8192), Capacity("spare", 8, 8192, spare=True)]
    demands = [Demand(f"vm{i}", 1, 1024) for i in range(3)]
    spread = plan_placement(demands, hosts, SPREAD)
    assert sorted(spread.assignments.values()) == ["a", "b", "spare"]
    pack = plan_placement(demands, hosts, PACK)
    assert set(pack.assignments.values()) == {"spare"}


def test_existing_groups_on_a_host_count():
    hosts = [Capacity("a", 8, 4096, groups={"db"}), Capacity("b", 8, 4096)]
    plan = plan_placement([Demand("db2", 1, 256, group="db")], hosts, PACK)
    assert plan.assignments == {"db2": "b"}


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError):
        plan_placement([], [], "random")
