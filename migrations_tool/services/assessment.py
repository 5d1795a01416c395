"""Assessment: what to do with each selected workload, why, on what and at what cost.

Sizing and cost are cloud's (cloud.services.recommendations.recommend); this module
adds the migration strategies around them and the measured utilisation of the health
app, which wins over figures typed in by hand (cloud's UtilisationRecord):

- retire: cloud sizing says idle (CPU at most 2% for 14 days, by default);
- replatform-rds: a database server (the policy's database role) with an RDS class;
- rehost-ec2: anything else with an instance type that fits;
- rehost-hypervisor: a VM nothing in the cloud fits (it moves to another hypervisor or
  a spare instead);
- retain: a hypervisor (it carries VMs: those move, not it), or a host nothing fits.

Database servers are also sized as plain EC2 instances, so that an operator who turns
"replatform" into "rehost" in the wizard gets an instance type and its cost at once.

    assessed = assess(load_workloads(host_ids=..., vm_ids=...), account=account)
    for item in assessed.items: item.strategy, item.reason, item.instance_type, item.aws_monthly
"""

from dataclasses import dataclass, field
from decimal import Decimal

from cloud.services import cost
from cloud.services.recommendations import recommend
from cloud.services.sizing import NO_FIT, REHOST_EC2, REPLATFORM_RDS, RETIRE, Recommendation
from cloud.services.workloads import measured_utilisation
from hypervisors.models import Hypervisor

from ..models import Strategy
from .utilisation import health_utilisation

STRATEGY_OF_ACTION = {RETIRE: Strategy.RETIRE, REPLATFORM_RDS: Strategy.REPLATFORM_RDS, REHOST_EC2: Strategy.REHOST_EC2}
SOURCE_NAMES = {"health": "health checks (load and memory)", "manual": "figures recorded by hand"}


@dataclass
class Assessed:
    """One workload's assessment: the fields of a PlannedWorkload, before it is saved."""

    workload: object  # cloud.services.workloads.Workload
    strategy: str
    reason: str
    basis: str = ""
    utilisation_source: str = ""
    required_vcpus: int = 0
    required_memory_mib: int = 0
    instance_type: str = ""
    rds_class: str = ""
    engine: str = ""
    multi_az: bool = False
    storage_gb: int = 0
    onprem_monthly: Decimal | None = None
    aws_monthly: Decimal | None = None  # of the cloud target of the strategy (or the EC2 one)
    ec2_monthly: Decimal | None = None  # the EC2 alternative, for databases

    @property
    def key(self):
        return self.workload.key

    @property
    def difference(self):
        if self.onprem_monthly is None or self.aws_monthly is None:
            return None
        return self.aws_monthly - self.onprem_monthly


@dataclass
class Assessment:
    items: list = field(default_factory=list)
    region: str = ""
    prices: object = None
    utilisation_sources: dict = field(default_factory=dict)  # source -> number of workloads

    @property
    def by_strategy(self):
        counts = {value: 0 for value in Strategy.values}
        for item in self.items:
            counts[item.strategy] += 1
        return counts


def hypervisor_host_ids(workloads):
    host_ids = [w.id for w in workloads if w.kind == "host"]
    if not host_ids:
        return set()
    return set(Hypervisor.objects.filter(host_id__in=host_ids).values_list("host_id", flat=True))


def assess(workloads, *, account=None, region=None, policy_overrides=None, use_health=True):
    """The Assessment of `workloads` (cloud Workload values). A handful of queries in all."""
    measured = measured_utilisation(workloads)  # recorded by hand; the health checks' figures win
    if use_health:
        measured.update(health_utilisation(workloads))
    result = recommend(workloads, account=account, region=region, policy_overrides=policy_overrides,
                       utilisation=measured, use_recorded_utilisation=False)
    databases = [r.workload for r in result.recommendations if r.action == REPLATFORM_RDS]
    ec2_for_databases = {}
    if databases:
        as_servers = recommend(databases, account=account, region=region, prices=result.prices,
                               policy_overrides={**(policy_overrides or {}), "database_role": ""},
                               utilisation=measured, use_recorded_utilisation=False)
        ec2_for_databases = {r.workload.key: r for r in as_servers.recommendations}
    hypervisors = hypervisor_host_ids(workloads)
    assessment = Assessment(region=result.region, prices=result.prices)
    for recommendation in result.recommendations:
        item = assessed(recommendation, ec2_for_databases.get(recommendation.workload.key), hypervisors)
        assessment.items.append(item)
        source = item.utilisation_source or "none"
        assessment.utilisation_sources[source] = assessment.utilisation_sources.get(source, 0) + 1
    return assessment


def assessed(recommendation, ec2_alternative, hypervisors):
    workload = recommendation.workload
    estimate = recommendation.cost
    used = recommendation.utilisation
    item = Assessed(
        workload=workload, strategy=Strategy.RETAIN, reason=recommendation.reason, basis=recommendation.basis,
        utilisation_source=used.source if used is not None else "",
        required_vcpus=recommendation.required_vcpus, required_memory_mib=recommendation.required_memory_mib,
        engine=recommendation.engine or "", multi_az=recommendation.multi_az, storage_gb=workload.disk_gb,
        onprem_monthly=estimate.onprem_monthly if estimate else None,
        aws_monthly=estimate.aws_monthly if estimate else None,
    )
    if used is not None:
        item.reason = f"Utilisation from {SOURCE_NAMES.get(used.source, used.source)}. {item.reason}"
    if recommendation.action == REPLATFORM_RDS:
        item.rds_class = recommendation.target
    elif recommendation.action == REHOST_EC2:
        item.instance_type = recommendation.target
    if ec2_alternative is not None and ec2_alternative.target:
        item.instance_type = ec2_alternative.target
        item.ec2_monthly = ec2_alternative.cost.aws_monthly if ec2_alternative.cost else None
    if workload.kind == "host" and workload.id in hypervisors:
        item.reason = "A hypervisor: it carries VMs, which move on their own; the host stays. " + item.reason
        return item
    if recommendation.action == NO_FIT:
        if workload.kind == "vm":
            item.strategy = Strategy.REHOST_HYPERVISOR
            item.reason += " It moves to another hypervisor or a spare instead."
        return item
    item.strategy = STRATEGY_OF_ACTION[recommendation.action]
    return item


def aws_monthly_of(strategy, workload, instance_type, rds_class, engine, multi_az, prices):
    """The AWS monthly cost of a strategy the operator chose (cloud.services.cost's rules),
    or None when the target has no price."""
    if strategy == Strategy.REHOST_EC2:
        entry = prices.ec2.get(instance_type)
        action, hourly, multi_az = REHOST_EC2, entry.hourly if entry else None, False
    elif strategy == Strategy.REPLATFORM_RDS:
        action, hourly = REPLATFORM_RDS, prices.rds_price(engine, rds_class)
    elif strategy == Strategy.RETIRE:
        action, hourly = RETIRE, None
    else:
        return None
    compute, storage = cost.aws_monthly(Recommendation(workload, action, "", "", hourly=hourly, multi_az=multi_az),
                                        prices)
    return None if compute is None else (compute + storage).quantize(cost.CENT)
