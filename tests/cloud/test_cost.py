"""Monthly cost: on premises (the admin's cost models) against AWS on demand, and the
difference; recommend() sizes and costs many workloads in a fixed number of queries."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cloud.models import OnPremCostModel, SizingPolicy, UtilisationRecord
from cloud.services.cost import CostModels, monthly_estimate
from cloud.services.recommendations import recommend
from cloud.services.sizing import REPLATFORM_RDS, RETIRE, Sizer
from cloud.services.workloads import Utilisation, Workload, load_workloads
from hypervisors.models import VirtualMachine
from inventory.models import Host, Role, Tag

HOURS = Decimal("730")
GIB = 1024


@pytest.fixture
def roles(db):
    return {slug: Role.objects.create(name=slug.title(), slug=slug) for slug in ("app", "db")}


@pytest.fixture
def cost_models(roles):
    return {
        "host": OnPremCostModel.objects.create(name="Server", kind="host", hardware_amortisation=Decimal("280"),
                                               power=Decimal("95"), rack=Decimal("55"), licences=Decimal("40")),
        "db": OnPremCostModel.objects.create(name="DB server", kind="host", role=roles["db"],
                                             hardware_amortisation=Decimal("420"), power=Decimal("130"),
                                             rack=Decimal("55"), licences=Decimal("900")),
        "vm": OnPremCostModel.objects.create(name="VM", kind="vm", hardware_amortisation=Decimal("35"),
                                             power=Decimal("10"), rack=Decimal("5"), licences=Decimal("20")),
    }


def workload(kind="host", role=None, tags=(), vcpus=4, memory_mib=16 * GIB, disk_gb=200, id=1):
    return Workload(kind=kind, id=id, name=f"w{id}", vcpus=vcpus, memory_mib=memory_mib, disk_gb=disk_gb,
                    role_id=role.pk if role else None, role_slug=role.slug if role else "", tags=frozenset(tags))


def test_ec2_cost_is_730_hours_plus_gp3_storage_against_the_model(shipped_prices, cost_models, roles):
    recommendation = Sizer(shipped_prices).recommend(workload(role=roles["app"], disk_gb=200))
    cost = monthly_estimate(recommendation, shipped_prices, CostModels.load())
    hourly = shipped_prices.ec2[recommendation.target].hourly
    compute, storage = hourly * HOURS, 200 * shipped_prices.ebs_gp3_gb_month
    assert cost.aws_compute_monthly == compute.quantize(Decimal("0.01"))
    assert cost.aws_storage_monthly == storage.quantize(Decimal("0.01"))
    assert cost.aws_monthly == (compute + storage).quantize(Decimal("0.01"))
    assert (cost.onprem_monthly, cost.onprem_model) == (Decimal("470.00"), "Server")  # the default host model
    assert cost.difference == (compute + storage - Decimal("470")).quantize(Decimal("0.01"))


def test_role_and_kind_choose_the_cost_model(cost_models, roles):
    models = CostModels.load()
    assert models.for_workload(workload(role=roles["db"])) == cost_models["db"]
    assert models.for_workload(workload(role=roles["app"])) == cost_models["host"]
    assert models.for_workload(workload(kind="vm", role=roles["db"])) == cost_models["vm"]
    cost_models["vm"].delete()
    assert CostModels.load().for_workload(workload(kind="vm")) is None


def test_without_a_cost_model_there_is_no_difference(shipped_prices, db):
    recommendation = Sizer(shipped_prices).recommend(workload(kind="vm"))
    cost = monthly_estimate(recommendation, shipped_prices, CostModels.load())
    assert cost.onprem_monthly is None and cost.difference is None
    assert cost.aws_monthly > 0
    assert "No on-premises cost model for a virtual machine" in cost.note


def test_multi_az_doubles_the_database_instance(shipped_prices, cost_models, roles):
    sizer, models = Sizer(shipped_prices), CostModels.load()
    single = sizer.recommend(workload(role=roles["db"], disk_gb=500))
    multi = sizer.recommend(workload(role=roles["db"], tags={"prod"}, disk_gb=500))
    assert multi.action == single.action == REPLATFORM_RDS
    single_cost = monthly_estimate(single, shipped_prices, models)
    multi_cost = monthly_estimate(multi, shipped_prices, models)
    rds_hourly = shipped_prices.rds["postgres"][single.target].hourly
    assert single_cost.aws_compute_monthly == (rds_hourly * HOURS).quantize(Decimal("0.01"))
    assert multi_cost.aws_compute_monthly == (2 * rds_hourly * HOURS).quantize(Decimal("0.01"))
    assert single_cost.aws_storage_monthly == (500 * shipped_prices.rds_gp3_gb_month).quantize(Decimal("0.01"))
    assert multi_cost.aws_storage_monthly == 2 * single_cost.aws_storage_monthly  # the standby has its own storage
    assert multi_cost.onprem_monthly == single_cost.onprem_monthly == Decimal("1505.00")


def test_retiring_saves_the_whole_on_premises_cost(shipped_prices, cost_models, roles):
    idle = Utilisation(Decimal("0.5"), Decimal("10"), Decimal("1"), 30)
    recommendation = Sizer(shipped_prices).recommend(workload(role=roles["app"]), idle)
    assert recommendation.action == RETIRE
    cost = monthly_estimate(recommendation, shipped_prices, CostModels.load())
    assert (cost.aws_monthly, cost.difference) == (Decimal("0.00"), Decimal("-470.00"))


def test_on_premises_cost_models_are_one_per_kind_and_role(cost_models, roles):
    from django.core.exceptions import ValidationError

    clash = OnPremCostModel(name="Another default", kind="host")
    with pytest.raises(ValidationError, match="already a physical host cost model for the default"):
        clash.full_clean()
    OnPremCostModel(name="App VMs", kind="vm", role=roles["app"]).full_clean()  # another kind: fine


# --- recommend(): everything at once ----------------------------------------------------------


def make_estate(count, site, roles):
    prod = Tag.objects.get_or_create(name="prod", slug="prod")[0]
    hosts = Host.objects.bulk_create([
        Host(hostname=f"h{n:05d}", site=site, role=roles["db" if n % 5 == 0 else "app"], cpu_cores=4 + n % 12,
             memory_mib=(8 + n % 24) * GIB, disks=[{"name": "sda", "size_gb": 100 + n % 400}])
        for n in range(count)
    ])
    for host in hosts[::3]:
        host.tags.add(prod)
    vms = VirtualMachine.objects.bulk_create([
        VirtualMachine(uuid=f"00000000-0000-0000-0000-{n:012d}", name=f"vm{n:05d}", vcpus=1 + n % 8,
                       memory_mib=(1 + n % 16) * GIB, role=roles["app"]) for n in range(count)
    ])
    UtilisationRecord.objects.bulk_create([
        UtilisationRecord(host=host, p95_cpu_percent=Decimal(n % 60), p95_memory_percent=Decimal(20 + n % 50),
                          max_cpu_percent=Decimal(1 if n % 7 == 0 else 80), days=30)
        for n, host in enumerate(hosts[::2])
    ])
    return [h.pk for h in hosts], [v.pk for v in vms]


def test_recommend_sizes_and_costs_hosts_and_vms_with_their_recorded_utilisation(site, roles, cost_models,
                                                                                 shipped_prices):
    host_ids, vm_ids = make_estate(30, site, roles)
    result = recommend(load_workloads(host_ids=host_ids, vm_ids=vm_ids))
    assert len(result.recommendations) == 60
    assert result.region == "us-east-1" and not result.catalogue_used
    by_name = {r.workload.name: r for r in result.recommendations}
    measured = by_name["h00002"]  # hosts[::2] have figures: the second of them
    assert measured.basis == "utilisation" and measured.utilisation.p95_cpu_percent == Decimal(1)
    assert by_name["h00001"].basis == "allocation"
    assert by_name["h00000"].action == RETIRE  # max CPU 1% for 30 days
    assert by_name["h00005"].action == REPLATFORM_RDS and by_name["h00015"].multi_az  # db, and db + prod
    sizer = Sizer(shipped_prices, result.policy)
    for r in result.recommendations:  # the same answers as sizing one workload at a time
        assert r.target == sizer.recommend(r.workload, r.utilisation).target
    totals = result.totals
    compared = [r for r in result.recommendations if r.cost.difference is not None]
    assert totals["compared"] == len(compared) == 60
    assert totals["aws_monthly"] == sum(r.cost.aws_monthly for r in compared)
    assert totals["difference"] == totals["aws_monthly"] - totals["onprem_monthly"]
    assert sum(totals["by_action"].values()) == 60


def test_recommend_runs_a_fixed_number_of_queries(site, roles, cost_models):
    def queries_for(host_ids, vm_ids):
        with CaptureQueriesContext(connection) as queries:
            result = recommend(load_workloads(host_ids=host_ids, vm_ids=vm_ids))
        return len(queries), result

    SizingPolicy.default()  # created once on first use: not part of what is measured
    small, _ = queries_for(*make_estate(5, site, roles))
    Host.objects.all().delete()
    VirtualMachine.objects.all().delete()
    big, result = queries_for(*make_estate(200, site, roles))
    assert len(result.recommendations) == 400
    assert big == small <= 8


def test_policy_overrides_apply_to_one_request_only(site, roles, shipped_prices):
    host = Host.objects.create(hostname="tiny", site=site, role=roles["app"], cpu_cores=2, memory_mib=1024)
    workloads = load_workloads(host_ids=[host.pk])
    default = recommend(workloads).recommendations[0]
    burstable = recommend(workloads, policy_overrides={"allow_burstable": True}).recommendations[0]
    assert not shipped_prices.ec2[default.target].burstable
    assert shipped_prices.ec2[burstable.target].burstable
    assert recommend(workloads).recommendations[0].target == default.target
