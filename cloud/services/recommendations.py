"""Size and cost a set of workloads in one go: what the API, the console's right-sizing
page and the migration assessment all call.

    from cloud.services.recommendations import recommend
    from cloud.services.workloads import load_workloads

    result = recommend(load_workloads(host_ids=[...], vm_ids=[...]), account=account)
    for r in result.recommendations:
        r.action, r.target, r.reason, r.cost.aws_monthly, r.cost.difference

Everything is loaded once (price table, catalogue, policy, cost models, recorded
utilisation: about five queries), then each workload is sized and costed in memory,
so thousands of workloads take well under a second or two.
"""

from dataclasses import dataclass, field

from . import cost
from .catalogue import catalogue_specs
from .prices import price_table
from .sizing import ACTIONS, Policy, Sizer
from .workloads import measured_utilisation

DEFAULT_REGION = "us-east-1"


@dataclass
class Result:
    region: str
    prices: object  # PriceTable
    policy: Policy
    catalogue_used: bool  # sized against the account's real instance type list
    recommendations: list = field(default_factory=list)
    account: object = None

    @property
    def totals(self):
        summary = cost.totals(self.recommendations)
        summary["by_action"] = {action: sum(r.action == action for r in self.recommendations) for action in ACTIONS}
        return summary


def recommend(workloads, *, account=None, region=None, policy=None, policy_overrides=None, utilisation=None,
              use_recorded_utilisation=True, prices=None, catalogue=None, cost_models=None):
    """Recommend a target and estimate the monthly cost of each workload.

    workloads: cloud.services.workloads.Workload values (see load_workloads()).
    account: a CloudAccount; its region is used and, once its instance type list has
        been loaded (catalogue refresh), only types it offers are chosen.
    region: without an account (default us-east-1).
    policy / policy_overrides: a sizing.Policy (default: the stored default policy),
        and values to change in it, e.g. {"allow_burstable": True, "cpu_headroom": 1.5}.
    utilisation: {workload.key: Utilisation} measured figures to use; the recorded
        ones (UtilisationRecord) fill in the others unless use_recorded_utilisation=False.
    prices / catalogue / cost_models: already loaded ones, to share between calls.

    Raises prices.NoPriceTable when the region has no price table, ValueError for an
    unknown policy override.
    """
    region = account.region if account is not None else (region or DEFAULT_REGION)
    policy = (policy or Policy.default()).with_overrides(**(policy_overrides or {}))
    prices = prices or price_table(region)
    if catalogue is None:
        catalogue = catalogue_specs(region) if account is not None else {}
    cost_models = cost_models or cost.CostModels.load()
    figures = measured_utilisation(workloads) if use_recorded_utilisation else {}
    figures.update(utilisation or {})

    sizer = Sizer(prices, policy, catalogue=catalogue)
    result = Result(region=region, prices=prices, policy=policy, catalogue_used=bool(catalogue), account=account)
    for workload in workloads:
        recommendation = sizer.recommend(workload, figures.get(workload.key))
        recommendation.cost = cost.monthly_estimate(recommendation, prices, cost_models)
        result.recommendations.append(recommendation)
    return result
