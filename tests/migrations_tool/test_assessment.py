"""Assessment: a strategy per workload with its reason, sizing and cost, measured
utilisation from the health checks when there is some (and saying so)."""

import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cloud.models import UtilisationRecord
from cloud.services.prices import price_table
from cloud.services.workloads import load_workloads
from hypervisors.models import VirtualMachine
from inventory.models import Host
from migrations_tool.models import Strategy
from migrations_tool.services import plans
from migrations_tool.services.assessment import assess
from migrations_tool.services.utilisation import health_utilisation

from .conftest import record_metrics


def by_name(assessment):
    return {item.workload.name: item for item in assessment.items}


def all_of(estate):
    return load_workloads(host_ids=[h.pk for h in estate["hosts"].values()],
                          vm_ids=[v.pk for v in estate["vms"].values()])


def test_each_kind_of_workload_gets_its_strategy(estate):
    items = by_name(assess(all_of(estate)))
    assert items["luna"].strategy == Strategy.REHOST_EC2 and items["luna"].instance_type
    assert items["batman"].strategy == Strategy.REPLATFORM_RDS
    assert items["batman"].rds_class.startswith("db.") and items["batman"].engine == "postgres"
    assert items["batman"].multi_az  # tagged prod
    assert items["batman"].instance_type, "a database also gets an EC2 alternative"
    assert items["hv1"].strategy == Strategy.RETAIN and "hypervisor" in items["hv1"].reason
    assert items["vm-huge"].strategy == Strategy.REHOST_HYPERVISOR and "another hypervisor" in items["vm-huge"].reason
    assert items["vm-app"].strategy == Strategy.REHOST_EC2


def test_cost_comes_from_the_cloud_cost_model(estate):
    prices = price_table("us-east-1")
    luna = by_name(assess(all_of(estate)))["luna"]
    expected = (prices.ec2[luna.instance_type].hourly * 730 + 200 * prices.ebs_gp3_gb_month).quantize(Decimal("0.01"))
    assert luna.aws_monthly == expected
    assert luna.onprem_monthly == Decimal("200.00")
    assert luna.difference == expected - Decimal("200.00")


def test_without_measurements_the_allocation_is_used_and_said(estate):
    luna = by_name(assess(all_of(estate)))["luna"]
    assert luna.basis == "allocation" and luna.utilisation_source == ""
    assert "no utilisation data" in luna.reason
    assert (luna.required_vcpus, luna.required_memory_mib) == (8, 32 * 1024)


def test_health_metrics_size_the_workload_and_the_reason_says_so(estate):
    # load 2 on 8 cores = 25% CPU, 50% memory: ceil(8 × 0.25 × 1.25) = 3 vCPU, 32 GiB × 0.5 × 1.25 = 20 GiB
    record_metrics(estate["hosts"]["luna"], load5=2.0, mem_used_pct=50, load1=3.0)
    figures = health_utilisation(all_of(estate))
    measured = figures[("host", estate["hosts"]["luna"].pk)]
    assert measured.source == "health" and measured.days == 20
    assert measured.p95_cpu_percent == Decimal("25") and measured.max_cpu_percent == Decimal("37.5")
    luna = by_name(assess(all_of(estate)))["luna"]
    assert luna.basis == "utilisation" and luna.utilisation_source == "health"
    assert luna.reason.startswith("Utilisation from health checks")
    assert (luna.required_vcpus, luna.required_memory_mib) == (3, 20 * 1024)


def test_health_figures_win_over_figures_typed_by_hand(estate):
    luna = estate["hosts"]["luna"]
    UtilisationRecord.objects.create(host=luna, p95_cpu_percent=90, p95_memory_percent=90, max_cpu_percent=95,
                                     days=30)
    record_metrics(luna, load5=2.0, mem_used_pct=50)
    assert by_name(assess(all_of(estate)))["luna"].utilisation_source == "health"
    assert by_name(assess(all_of(estate), use_health=False))["luna"].utilisation_source == "manual"


def test_a_vm_is_measured_through_its_inventory_host(estate):
    vm = estate["vms"]["vm-app"]
    vm.inventory_host = estate["hosts"]["odin"]
    vm.save()
    record_metrics(estate["hosts"]["odin"], load5=1.0, mem_used_pct=40)
    items = by_name(assess(load_workloads(vm_ids=[vm.pk])))
    assert items["vm-app"].utilisation_source == "health"


def test_an_idle_workload_is_retired(estate):
    record_metrics(estate["hosts"]["odin"], load5=0.02, mem_used_pct=10, days=20)
    odin = by_name(assess(all_of(estate)))["odin"]
    assert odin.strategy == Strategy.RETIRE and odin.aws_monthly == 0


def test_the_number_of_queries_does_not_grow_with_the_workloads(estate):
    few = all_of(estate)
    for host in estate["hosts"].values():
        record_metrics(host, load5=1.0, mem_used_pct=40, days=2)
    site, roles = estate["site"], estate["roles"]
    for i in range(20):  # more of every kind: app, database and web servers, VMs
        host = Host.objects.create(hostname=f"extra{i}", site=site, role=roles[("app", "db", "web")[i % 3]],
                                   status="active", cpu_cores=4, memory_mib=8192)
        record_metrics(host, load5=1.0, mem_used_pct=40, days=2)
        VirtualMachine.objects.create(uuid=uuid.uuid4(), name=f"extra-vm{i}", vcpus=2, memory_mib=4096,
                                      hypervisor=estate["hypervisors"]["hv1"], state="running", inventory_host=host)
    many = load_workloads(host_ids=Host.objects.values_list("pk", flat=True),
                          vm_ids=VirtualMachine.objects.values_list("pk", flat=True))
    assert len(many) > 2 * len(few)
    assess(few)  # warm the price table cache
    with CaptureQueriesContext(connection) as one:
        assess(few)
    with CaptureQueriesContext(connection) as all_:
        assess(many)
    assert len(all_) == len(one)


def test_changing_a_choice_recosts_and_refuses_what_cannot_work(estate):
    plan = plans.create_plan("p", assess(all_of(estate)))
    batman = plan.workloads.get(name="batman")
    rds_cost = batman.aws_monthly
    plans.change_workload(batman, strategy=Strategy.REHOST_EC2)
    batman.refresh_from_db()
    assert batman.strategy == Strategy.REHOST_EC2 and batman.aws_monthly != rds_cost
    with pytest.raises(ValidationError) as refused:
        plans.change_workload(batman, instance_type="x9.nonexistent")
    assert "instance_type" in refused.value.message_dict
    luna = plan.workloads.get(name="luna")
    with pytest.raises(ValidationError) as refused:
        plans.change_workload(luna, strategy=Strategy.REHOST_HYPERVISOR)
    assert "Only a VM" in refused.value.message_dict["strategy"][0]
