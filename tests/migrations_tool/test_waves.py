"""Waves: connected workloads move together, a dependency no later than its dependents."""

import pytest
from django.core.exceptions import ValidationError

from cloud.services.workloads import load_workloads
from migrations_tool.models import Dependency
from migrations_tool.services import plans, waves
from migrations_tool.services.assessment import assess

A, B, C, D, E = (("host", n) for n in range(1, 6))
NAMES = {A: "a", B: "b", C: "c", D: "d", E: "e"}


def test_connected_workloads_share_a_wave_and_dependencies_come_first():
    # a needs b, b needs c; d needs e; nothing links the two groups
    groups = waves.group_into_waves([A, B, C, D, E], [(A, B), (B, C), (D, E)], NAMES)
    assert groups == [[C, B, A], [E, D]]


def test_a_workload_without_dependencies_is_a_wave_of_its_own():
    assert waves.group_into_waves([A, B], [], NAMES) == [[A], [B]]


def test_a_cycle_moves_together_in_name_order():
    groups = waves.group_into_waves([A, B, C], [(A, B), (B, A), (C, A)], NAMES)
    assert len(groups) == 1
    assert groups[0].index(C) > groups[0].index(A)  # c needs a: a first


def test_a_plan_is_grouped_by_its_recorded_dependencies(estate):
    hosts = estate["hosts"]
    Dependency.objects.create(source_host=hosts["luna"], target_host=hosts["batman"], description="PostgreSQL")
    Dependency.objects.create(source_host=hosts["odin"], target_host=hosts["luna"])
    workloads = load_workloads(host_ids=[hosts[n].pk for n in ("luna", "batman", "odin")],
                               vm_ids=[estate["vms"]["vm-app"].pk])
    plan = plans.create_plan("p", assess(workloads))
    made = list(plan.waves.all())
    assert len(made) == 2
    first = [w.name for w in waves.ordered_workloads(plan, made[0])]
    assert first == ["batman", "luna", "odin"]
    assert [w.name for w in waves.ordered_workloads(plan, made[1])] == ["vm-app"]
    assert waves.violations(plan) == []


def test_moving_a_dependency_later_than_its_dependent_is_reported(estate):
    hosts = estate["hosts"]
    Dependency.objects.create(source_host=hosts["luna"], target_host=hosts["batman"])
    plan = plans.create_plan("p", assess(load_workloads(host_ids=[hosts["luna"].pk, hosts["batman"].pk])))
    later = plan.waves.create(number=2, name="later")
    plan.workloads.filter(name="batman").update(wave=later)
    assert waves.violations(plan) == ["luna (wave 1) depends on batman, which moves later (wave 2)"]
    assert any("depends on batman" in problem for problem in plans.readiness(plan))


def test_a_dependency_names_one_source_and_one_target_and_never_itself(estate):
    luna = estate["hosts"]["luna"]
    with pytest.raises(ValidationError) as refused:
        Dependency(source_host=luna, target_host=luna).full_clean()
    assert "target" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        Dependency(source_host=luna, source_vm=estate["vms"]["vm-app"], target_host=estate["hosts"]["odin"]).full_clean()
    assert "source" in refused.value.message_dict
