"""Monthly cost of a workload: on premises (the admin's OnPremCostModel for its role and
kind, or the default one) against AWS on demand (730 hours × the hourly price, twice
for a Multi-AZ database, plus its storage on gp3), and the difference.

    models = CostModels.load()                                  # one query
    estimate = monthly_estimate(recommendation, prices, models)  # no query
"""

from dataclasses import dataclass
from decimal import Decimal

from ..models import OnPremCostModel
from .prices import HOURS_PER_MONTH
from .sizing import REPLATFORM_RDS, RETIRE

CENT = Decimal("0.01")


@dataclass(frozen=True)
class CostEstimate:
    """Money per month, in the price table's currency. `difference` is AWS minus on
    premises: negative when the cloud is cheaper. None where a figure is unknown (no cost
    model for the workload, or no instance type fits)."""

    onprem_monthly: Decimal | None
    onprem_model: str
    aws_compute_monthly: Decimal | None
    aws_storage_monthly: Decimal | None
    aws_monthly: Decimal | None
    difference: Decimal | None
    storage_gb: int
    note: str = ""


class CostModels:
    """The on-premises cost models, looked up by (kind, role) then (kind, default)."""

    def __init__(self, models=()):
        self._by_key = {(model.kind, model.role_id): model for model in models}

    @classmethod
    def load(cls):
        return cls(OnPremCostModel.objects.all())

    def for_workload(self, workload):
        return self._by_key.get((workload.kind, workload.role_id)) or self._by_key.get((workload.kind, None))


def aws_monthly(recommendation, prices):
    """(compute, storage) per month on AWS for the recommendation, or (None, None) when
    nothing fits. Retiring costs nothing."""
    if recommendation.action == RETIRE:
        return Decimal("0"), Decimal("0")
    if recommendation.hourly is None:
        return None, None
    copies = 2 if recommendation.multi_az else 1  # Multi-AZ: a standby instance and its storage
    storage_price = prices.rds_gp3_gb_month if recommendation.action == REPLATFORM_RDS else prices.ebs_gp3_gb_month
    compute = recommendation.hourly * HOURS_PER_MONTH * copies
    storage = Decimal(recommendation.workload.disk_gb) * storage_price * copies
    return compute, storage


def monthly_estimate(recommendation, prices, cost_models):
    workload = recommendation.workload
    model = cost_models.for_workload(workload)
    onprem = model.monthly_total if model else None
    compute, storage = aws_monthly(recommendation, prices)
    total = None if compute is None else compute + storage
    notes = []
    if model is None:
        kind = "physical host" if workload.kind == "host" else "virtual machine"
        notes.append(f"No on-premises cost model for a {kind} of role {workload.role_slug or '(none)'}, "
                     f"and no default one.")
    if total is None:
        notes.append("No AWS price: nothing fits.")
    return CostEstimate(
        onprem_monthly=_cents(onprem), onprem_model=model.name if model else "",
        aws_compute_monthly=_cents(compute), aws_storage_monthly=_cents(storage), aws_monthly=_cents(total),
        difference=_cents(total - onprem) if total is not None and onprem is not None else None,
        storage_gb=workload.disk_gb, note=" ".join(notes),
    )


def totals(recommendations):
    """Sums over the workloads that have both figures (so that the difference is AWS
    minus on premises of the same workloads), and how many lack one."""
    onprem = aws = Decimal("0")
    compared = 0
    for recommendation in recommendations:
        cost = recommendation.cost
        if cost is None or cost.difference is None:
            continue
        onprem += cost.onprem_monthly
        aws += cost.aws_monthly
        compared += 1
    return {"onprem_monthly": _cents(onprem), "aws_monthly": _cents(aws), "difference": _cents(aws - onprem),
            "compared": compared, "not_compared": len(recommendations) - compared}


def _cents(value):
    return None if value is None else Decimal(value).quantize(CENT)
