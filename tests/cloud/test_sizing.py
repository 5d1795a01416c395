"""Right-sizing rules (docs/cloud-migrations.md). Expected instance types are worked out here from the
price table itself, by brute force over its entries, never typed in."""

from decimal import Decimal

import pytest

from cloud.services.prices import table_from_dict
from cloud.services.sizing import (
    NO_FIT,
    REHOST_EC2,
    REPLATFORM_RDS,
    RETIRE,
    Policy,
    Sizer,
    required_size,
)
from cloud.services.workloads import Utilisation, Workload, from_host, from_vm, load_workloads
from hypervisors.models import VirtualMachine
from inventory.models import Host, Role, Tag

GIB = 1024


def workload(vcpus=4, memory_mib=16 * GIB, role="app", tags=(), disk_gb=100, kind="host", id=1):
    return Workload(kind=kind, id=id, name=f"w{id}", vcpus=vcpus, memory_mib=memory_mib, disk_gb=disk_gb,
                    role_id=None, role_slug=role, tags=frozenset(tags))


def used(p95_cpu, p95_memory, max_cpu=90, days=30):
    """Figures of a busy-enough workload (its peak keeps it from retirement unless given)."""
    return Utilisation(Decimal(str(p95_cpu)), Decimal(str(p95_memory)), Decimal(str(max_cpu)), days)


def cheapest_ec2(table, vcpus, memory_mib, previous=False, burstable=False, metal=False, architecture="x86_64"):
    """The names of the cheapest table entries that fit and that the rules allow (ties included)."""
    fits = [e for e in table.ec2.values()
            if e.vcpus >= vcpus and e.memory_mib >= memory_mib and (previous or e.current_generation)
            and (burstable or not e.burstable) and (metal or not e.bare_metal)
            and (architecture == "any" or architecture in e.architecture)]
    lowest = min(e.hourly for e in fits)
    return {e.name for e in fits if e.hourly == lowest}


def cheapest_rds(table, engine, vcpus, memory_mib):
    fits = []
    for entry in table.rds[engine].values():
        twin = table.ec2[entry.name.removeprefix("db.")]
        if twin.vcpus >= vcpus and twin.memory_mib >= memory_mib and entry.current_generation and not twin.burstable:
            fits.append(entry)
    lowest = min(e.hourly for e in fits)
    return {e.name for e in fits if e.hourly == lowest}


def test_without_utilisation_a_workload_is_sized_as_allocated(shipped_prices):
    recommendation = Sizer(shipped_prices).recommend(workload(vcpus=4, memory_mib=16 * GIB))
    assert recommendation.action == REHOST_EC2
    assert recommendation.basis == "allocation"
    assert (recommendation.required_vcpus, recommendation.required_memory_mib) == (4, 16 * GIB)
    assert recommendation.target in cheapest_ec2(shipped_prices, 4, 16 * GIB)
    assert recommendation.reason.startswith("Sized from allocation, no utilisation data")
    chosen = shipped_prices.ec2[recommendation.target]
    assert (recommendation.vcpus, recommendation.memory_mib, recommendation.hourly) == \
        (chosen.vcpus, chosen.memory_mib, chosen.hourly)


@pytest.mark.parametrize("vcpus, memory_mib, p95_cpu, p95_memory, need_vcpus, need_memory", [
    (8, 32 * GIB, 40, 50, 4, 20480),  # ceil(8 × 0.4 × 1.25) = 4; 32768 × 0.5 × 1.25 = 20480
    (10, 4 * GIB, 40, 10, 5, 1024),  # exactly 5 (no float ceiling to 6); memory floor of 1 GiB
    (16, 64 * GIB, 0, 0, 1, 1024),  # never below one vCPU
    (3, 3000, 100, 100, 4, 3750),  # ceil(3.75) = 4; headroom above what it has
    (36, 512 * GIB, 45, 80, 21, 524288),  # ceil(20.25) = 21
])
def test_size_from_utilisation_follows_the_design_formula(shipped_prices, vcpus, memory_mib, p95_cpu, p95_memory,
                                                          need_vcpus, need_memory):
    recommendation = Sizer(shipped_prices).recommend(workload(vcpus, memory_mib), used(p95_cpu, p95_memory))
    assert recommendation.basis == "utilisation"
    assert (recommendation.required_vcpus, recommendation.required_memory_mib) == (need_vcpus, need_memory)
    assert recommendation.target in cheapest_ec2(shipped_prices, need_vcpus, need_memory)
    assert recommendation.reason.startswith(f"Sized from utilisation (p95 CPU {p95_cpu}%")


def test_headroom_and_minimum_memory_come_from_the_policy():
    policy = Policy(cpu_headroom=Decimal("1.5"), memory_headroom=Decimal("2"), min_memory_mib=2048)
    need = required_size(workload(8, 8 * GIB), used(40, 10), policy)
    assert (need.vcpus, need.memory_mib) == (5, 2048)  # ceil(8 × 0.4 × 1.5 = 4.8); 8192 × 0.1 × 2 < 2048
    assert required_size(workload(8, 8 * GIB), used(40, 50), policy).memory_mib == 8192


@pytest.mark.parametrize("max_cpu, days, retired", [
    (2, 14, True), (0, 30, True), (1.5, 13, False), (2.01, 30, False),
])
def test_idle_for_two_weeks_means_retire(shipped_prices, max_cpu, days, retired):
    recommendation = Sizer(shipped_prices).recommend(workload(), used(1, 10, max_cpu=max_cpu, days=days))
    assert (recommendation.action == RETIRE) is retired
    if retired:
        assert recommendation.target is None
        assert recommendation.reason.startswith("Retire:")


def test_retire_thresholds_come_from_the_policy(shipped_prices):
    policy = Policy(retire_max_cpu_percent=Decimal("5"), retire_min_days=7)
    assert Sizer(shipped_prices, policy).recommend(workload(), used(2, 10, max_cpu=4.5, days=7)).action == RETIRE
    assert Sizer(shipped_prices).recommend(workload(), used(2, 10, max_cpu=4.5, days=7)).action == REHOST_EC2


def synthetic_table():
    """One cheap type of each kind the rules leave out, and a dearer one they allow."""
    def entry(hourly, current=True, burstable=False, metal=False, architecture="x86_64"):
        return {"hourly": hourly, "vcpus": 2, "memory_mib": 8192, "current_generation": current,
                "burstable": burstable, "bare_metal": metal, "architecture": architecture}

    return table_from_dict({
        "format": 1, "region": "us-east-1",
        "ec2": {"a1.large": entry("0.01", current=False), "t9.large": entry("0.02", burstable=True),
                "z1.metal": entry("0.03", metal=True), "g1.large": entry("0.04", architecture="arm64"),
                "m9.large": entry("0.10")},
        "rds": {}, "storage": {"ebs_gp3_gb_month": "0.08", "rds_gp3_gb_month": "0.115"},
    })


@pytest.mark.parametrize("overrides, expected", [
    ({}, "m9.large"),
    ({"allow_previous_generation": True}, "a1.large"),
    ({"allow_burstable": True}, "t9.large"),
    ({"allow_bare_metal": True}, "z1.metal"),
    ({"architecture": "any"}, "g1.large"),
    ({"architecture": "arm64"}, "g1.large"),
])
def test_previous_generation_burstable_bare_metal_and_other_architectures_only_when_allowed(overrides, expected):
    policy = Policy().with_overrides(**overrides)
    assert Sizer(synthetic_table(), policy).recommend(workload(2, 8 * GIB)).target == expected


def test_the_shipped_table_leaves_out_what_the_policy_excludes(shipped_prices):
    recommendation = Sizer(shipped_prices).recommend(workload(2, 1 * GIB))
    chosen = shipped_prices.ec2[recommendation.target]
    assert chosen.current_generation and not chosen.burstable and not chosen.bare_metal
    allowing = Sizer(shipped_prices, Policy(allow_burstable=True)).recommend(workload(2, 1 * GIB))
    assert allowing.target in cheapest_ec2(shipped_prices, 2, 1 * GIB, burstable=True)
    assert shipped_prices.ec2[allowing.target].burstable  # a t3 is the cheapest 2-vCPU, 1-GiB machine


def test_at_the_same_price_the_newer_generation_wins(shipped_prices):
    policy = Policy(allow_previous_generation=True)
    tied = cheapest_ec2(shipped_prices, 2, 8 * GIB, previous=True)
    assert len(tied) > 1  # m5.large and m6i.large cost the same
    newest = max(tied, key=lambda name: int("".join(ch for ch in name.split(".")[0] if ch.isdigit())))
    assert Sizer(shipped_prices, policy).recommend(workload(2, 8 * GIB)).target == newest


def test_nothing_big_enough_is_said(shipped_prices):
    recommendation = Sizer(shipped_prices).recommend(workload(vcpus=500, memory_mib=64 * GIB))
    assert recommendation.action == NO_FIT
    assert recommendation.target is None and recommendation.hourly is None
    assert "No EC2 instance type in the us-east-1 price table" in recommendation.reason
    assert "500 vCPU" in recommendation.reason


def test_database_servers_get_an_rds_class_of_their_engine(shipped_prices):
    sizer = Sizer(shipped_prices)
    postgres = sizer.recommend(workload(8, 32 * GIB, role="db"))
    assert postgres.action == REPLATFORM_RDS and postgres.engine == "postgres"
    assert postgres.target in cheapest_rds(shipped_prices, "postgres", 8, 32 * GIB)
    twin = shipped_prices.ec2[postgres.target.removeprefix("db.")]
    assert (postgres.vcpus, postgres.memory_mib) == (twin.vcpus, twin.memory_mib)
    assert postgres.hourly == shipped_prices.rds["postgres"][postgres.target].hourly

    mysql = sizer.recommend(workload(8, 32 * GIB, role="db", tags={"mysql"}))
    assert mysql.engine == "mysql"
    assert mysql.target in cheapest_rds(shipped_prices, "mysql", 8, 32 * GIB)
    assert mysql.hourly == shipped_prices.rds["mysql"][mysql.target].hourly
    assert mysql.hourly != postgres.hourly  # the engines are priced apart

    assert sizer.recommend(workload(8, 32 * GIB, role="app")).action == REHOST_EC2


def test_production_databases_are_multi_az(shipped_prices):
    sizer = Sizer(shipped_prices)
    production = sizer.recommend(workload(8, 32 * GIB, role="db", tags={"prod"}))
    test_db = sizer.recommend(workload(8, 32 * GIB, role="db"))
    assert production.multi_az and not test_db.multi_az
    assert production.target == test_db.target and production.hourly == test_db.hourly
    assert "Multi-AZ" in production.reason
    assert not sizer.recommend(workload(8, 32 * GIB, role="app", tags={"prod"})).multi_az  # EC2: no such thing


def test_the_account_catalogue_limits_and_describes_the_candidates(shipped_prices):
    need = (4, 16 * GIB)
    best = cheapest_ec2(shipped_prices, *need)
    catalogue = {name: entry for name, entry in shipped_prices.ec2.items() if name not in best}
    recommendation = Sizer(shipped_prices, catalogue=catalogue).recommend(workload(*need))
    runner_up = cheapest_ec2(table_from_dict({
        "format": 1, "region": "us-east-1", "rds": {}, "storage": {},
        "ec2": {n: {"hourly": str(e.hourly), "vcpus": e.vcpus, "memory_mib": e.memory_mib,
                    "current_generation": e.current_generation, "burstable": e.burstable,
                    "bare_metal": e.bare_metal, "architecture": e.architecture} for n, e in catalogue.items()},
    }), *need)
    assert recommendation.target in runner_up and recommendation.target not in best

    # the catalogue's word on a type wins over the price table's
    from dataclasses import replace

    demoted = {name: replace(entry, current_generation=name not in best) for name, entry in shipped_prices.ec2.items()}
    assert Sizer(shipped_prices, catalogue=demoted).recommend(workload(*need)).target not in best


def test_utilisation_figures_are_checked():
    with pytest.raises(ValueError, match="p95_cpu_percent"):
        Utilisation(Decimal("120"), Decimal("10"), Decimal("130"), 30)
    with pytest.raises(ValueError, match="days"):
        Utilisation(Decimal("10"), Decimal("10"), Decimal("20"), -1)


def test_policy_overrides_refuse_unknown_settings():
    with pytest.raises(ValueError, match="Unknown sizing policy settings: headroom"):
        Policy().with_overrides(headroom=2)
    assert Policy().with_overrides(cpu_headroom=1.3).cpu_headroom == Decimal("1.3")  # exact, not 1.3000000000000000444


# --- workloads from the inventory and the hypervisors ------------------------------------------


@pytest.fixture
def db_role(db):
    return Role.objects.create(name="Database server", slug="db")


def test_a_host_is_sized_by_its_cores_memory_and_disks(site, db_role):
    host = Host.objects.create(hostname="superman", site=site, role=db_role, cpu_cores=36, memory_mib=512 * GIB,
                               disks=[{"name": "sda", "size_gb": 480}, {"name": "sdb", "size_gb": 1920}, "junk"])
    host.tags.add(Tag.objects.create(name="prod", slug="prod"))
    [loaded] = load_workloads(host_ids=[host.pk])
    assert loaded == from_host(host)
    assert (loaded.kind, loaded.vcpus, loaded.memory_mib, loaded.disk_gb) == ("host", 36, 512 * GIB, 2400)
    assert (loaded.role_slug, loaded.tags) == ("db", frozenset({"prod"}))


def test_a_vm_is_sized_by_its_vcpus_memory_and_disk_capacity(db, site, db_role):
    vm = VirtualMachine.objects.create(uuid="00000000-0000-0000-0000-000000000001", name="robin", vcpus=2,
                                       memory_mib=4096, role=db_role,
                                       disks=[{"target": "vda", "size_bytes": 10 * 2**30},
                                              {"target": "vdb", "size_bytes": int(5.5 * 2**30)}, {"target": "cd"}])
    [loaded] = load_workloads(vm_ids=[vm.pk])
    assert loaded == from_vm(vm)
    assert (loaded.kind, loaded.vcpus, loaded.memory_mib, loaded.disk_gb) == ("vm", 2, 4096, 16)


def test_a_host_that_is_a_selected_vm_is_sized_once(db, site, host):
    vm = VirtualMachine.objects.create(uuid="00000000-0000-0000-0000-000000000002", name="luna", vcpus=2,
                                       memory_mib=4096, inventory_host=host)
    other = Host.objects.create(hostname="saturn", site=site)
    loaded = load_workloads(host_ids=[host.pk, other.pk], vm_ids=[vm.pk])
    assert [(w.kind, w.name) for w in loaded] == [("host", "saturn"), ("vm", "luna")]
