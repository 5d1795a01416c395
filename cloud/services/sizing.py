"""Right-sizing: which EC2 instance type (or RDS class) a workload needs, and why.

The rules (docs/cloud-migrations.md, every number configurable through the Policy):

- vCPU = ceil(source vCPU × p95 CPU use × cpu_headroom (1.25));
- memory = max(source memory × p95 memory use × memory_headroom (1.25), 1 GiB);
- the cheapest instance type of the price table that has both, leaving out previous
  generation, bare-metal and burstable types unless allowed (and, by default, other
  architectures than the x86_64 that on-premises servers run);
- no utilisation data: sized as allocated on premises, and the result says so;
- CPU at most 2% for at least 14 days: "retire" instead;
- database servers (role "db") get an RDS class of their engine, whose vCPU and memory
  are those of the EC2 type of the same name (db.m5.large = m5.large); production ones
  (tag "prod") are Multi-AZ, which doubles the instance price (see cloud.services.cost).

Usage:

    sizer = Sizer(price_table("us-east-1"), Policy.default(), catalogue=catalogue_specs("us-east-1"))
    recommendation = sizer.recommend(workload, utilisation)   # utilisation may be None

A Sizer prepares its candidates once and remembers answers by requirement, so sizing
thousands of workloads costs little more than sizing a few.
"""

import math
import re
from dataclasses import asdict, dataclass, fields, replace
from decimal import Decimal

from ..models import SizingPolicy

REHOST_EC2, REPLATFORM_RDS, RETIRE, NO_FIT = "rehost-ec2", "replatform-rds", "retire", "no-fit"
ACTIONS = (REHOST_EC2, REPLATFORM_RDS, RETIRE, NO_FIT)
UTILISATION, ALLOCATION = "utilisation", "allocation"
ENGINE_TAGS = {"postgres": "postgres", "postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}
GENERATION_NUMBER = re.compile(r"(\d+)")


@dataclass(frozen=True)
class Policy:
    """The sizing rules' numbers and switches (the SizingPolicy row, plus any overrides)."""

    cpu_headroom: Decimal = Decimal("1.25")
    memory_headroom: Decimal = Decimal("1.25")
    min_memory_mib: int = 1024
    allow_previous_generation: bool = False
    allow_burstable: bool = False
    allow_bare_metal: bool = False
    architecture: str = "x86_64"  # or "arm64", or "any"
    retire_max_cpu_percent: Decimal = Decimal("2")
    retire_min_days: int = 14
    database_role: str = "db"
    production_tag: str = "prod"
    default_db_engine: str = "postgres"

    def __post_init__(self):
        # Exact decimals whatever came in (a float 1.3 would otherwise carry its binary error).
        for name in ("cpu_headroom", "memory_headroom", "retire_max_cpu_percent"):
            object.__setattr__(self, name, Decimal(str(getattr(self, name))))

    @classmethod
    def names(cls):
        return [f.name for f in fields(cls)]

    @classmethod
    def from_model(cls, policy):
        return cls(**{name: getattr(policy, name) for name in cls.names()})

    @classmethod
    def default(cls):
        """The stored default policy (created with the values of docs/cloud-migrations.md on first use)."""
        return cls.from_model(SizingPolicy.default())

    def with_overrides(self, **overrides):
        """A copy with some values changed (None values are ignored)."""
        unknown = set(overrides) - set(self.names())
        if unknown:
            raise ValueError(f"Unknown sizing policy settings: {', '.join(sorted(unknown))}")
        return replace(self, **{name: value for name, value in overrides.items() if value is not None})

    def as_dict(self):
        return {name: (str(value) if isinstance(value, Decimal) else value) for name, value in asdict(self).items()}


@dataclass(frozen=True)
class Candidate:
    """An instance type or RDS class that can be chosen, with its price per hour."""

    name: str
    hourly: Decimal
    vcpus: int
    memory_mib: int
    current_generation: bool
    burstable: bool
    bare_metal: bool
    architecture: str

    @property
    def generation_number(self):
        match = GENERATION_NUMBER.search(self.name.removeprefix("db.").split(".")[0])
        return int(match.group(1)) if match else 0


@dataclass(frozen=True)
class Requirement:
    vcpus: int
    memory_mib: int
    basis: str  # "utilisation" or "allocation"


@dataclass
class Recommendation:
    """What a workload should become. `target` is the EC2 instance type (rehost-ec2) or
    the RDS class (replatform-rds); None when retiring or when nothing fits. `hourly`
    is the price of one instance (Multi-AZ doubles it: see cloud.services.cost)."""

    workload: object  # cloud.services.workloads.Workload
    action: str
    reason: str
    basis: str
    required_vcpus: int = 0
    required_memory_mib: int = 0
    target: str | None = None
    vcpus: int = 0
    memory_mib: int = 0
    hourly: Decimal | None = None
    engine: str | None = None
    multi_az: bool = False
    utilisation: object = None  # the Utilisation used, if any
    cost: object = None  # a cloud.services.cost.CostEstimate, once costed


def plain(number):
    """Decimal("8.00") -> "8", Decimal("1.25") -> "1.25"."""
    text = f"{Decimal(number):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def gib(mib):
    return plain(f"{Decimal(mib) / 1024:.2f}")


def required_size(workload, utilisation, policy):
    """The vCPU and memory the workload needs in the cloud (the formulas of docs/cloud-migrations.md)."""
    if utilisation is None:
        return Requirement(max(1, workload.vcpus), max(workload.memory_mib, policy.min_memory_mib), ALLOCATION)
    vcpus = math.ceil(Decimal(workload.vcpus) * utilisation.p95_cpu_percent / 100 * Decimal(policy.cpu_headroom))
    memory = math.ceil(Decimal(workload.memory_mib) * utilisation.p95_memory_percent / 100
                       * Decimal(policy.memory_headroom))
    return Requirement(max(1, vcpus), max(memory, policy.min_memory_mib), UTILISATION)


def is_idle(utilisation, policy):
    """True when the figures say the workload does nothing: retire it."""
    return (utilisation is not None and utilisation.days >= policy.retire_min_days
            and utilisation.max_cpu_percent <= Decimal(policy.retire_max_cpu_percent))


def is_database(workload, policy):
    return bool(policy.database_role) and workload.role_slug == policy.database_role


def database_engine(workload, policy):
    """The workload's engine from its tags ("postgres", "mysql"...), else the policy's default."""
    for tag in sorted(workload.tags):
        if tag in ENGINE_TAGS:
            return ENGINE_TAGS[tag]
    return policy.default_db_engine


def ec2_candidates(prices, catalogue=None):
    """Every EC2 type that has a price. With the account's catalogue (name -> spec, see
    cloud.services.catalogue.catalogue_specs), only the types it offers, with its specs."""
    candidates = []
    for entry in prices.ec2.values():
        spec = catalogue.get(entry.name) if catalogue else entry
        if spec is None:
            continue
        candidates.append(Candidate(entry.name, entry.hourly, spec.vcpus, spec.memory_mib, spec.current_generation,
                                    spec.burstable, spec.bare_metal, spec.architecture))
    return candidates


def rds_candidates(prices, engine, catalogue=None):
    """RDS classes of `engine` with a price, sized like their EC2 twin. Generations are
    RDS's own (db.m5 is a current RDS class even where EC2 lists m5 as previous)."""
    candidates = []
    for entry in prices.rds.get(engine, {}).values():
        twin = (catalogue or {}).get(entry.ec2_twin) or prices.ec2.get(entry.ec2_twin)
        if twin is None:
            continue
        candidates.append(Candidate(entry.name, entry.hourly, twin.vcpus, twin.memory_mib, entry.current_generation,
                                    twin.burstable, twin.bare_metal, twin.architecture))
    return candidates


def allowed(candidate, policy):
    if not policy.allow_previous_generation and not candidate.current_generation:
        return False
    if not policy.allow_burstable and candidate.burstable:
        return False
    if not policy.allow_bare_metal and candidate.bare_metal:
        return False
    return policy.architecture == "any" or policy.architecture in candidate.architecture.split(",")


def by_price(candidate):
    # Cheapest first; at the same price the newer generation, then the smaller type.
    return (candidate.hourly, -candidate.generation_number, candidate.vcpus, candidate.memory_mib, candidate.name)


def cheapest_fit(candidates, vcpus, memory_mib):
    """The first of the price-sorted candidates with at least vcpus and memory_mib."""
    for candidate in candidates:
        if candidate.vcpus >= vcpus and candidate.memory_mib >= memory_mib:
            return candidate
    return None


class Sizer:
    """Sizes workloads against one price table, policy and (optional) catalogue."""

    def __init__(self, prices, policy=None, catalogue=None):
        self.prices = prices
        self.policy = policy or Policy()
        self.catalogue = catalogue or None
        self._ec2 = self._prepared(ec2_candidates(prices, self.catalogue))
        self._rds = {engine: self._prepared(rds_candidates(prices, engine, self.catalogue)) for engine in prices.rds}
        self._memo = {}

    def _prepared(self, candidates):
        return sorted((c for c in candidates if allowed(c, self.policy)), key=by_price)

    def recommend(self, workload, utilisation=None):
        policy = self.policy
        if is_idle(utilisation, policy):
            return Recommendation(
                workload, RETIRE, basis=UTILISATION, utilisation=utilisation,
                reason=(f"Retire: CPU never above {plain(utilisation.max_cpu_percent)}% over {utilisation.days} days "
                        f"(at most {plain(policy.retire_max_cpu_percent)}% for {policy.retire_min_days} days "
                        f"means idle)."),
            )
        need = required_size(workload, utilisation, policy)
        engine = database_engine(workload, policy) if is_database(workload, policy) else None
        fit = self._cheapest(engine, need.vcpus, need.memory_mib)
        why = self._basis_text(workload, utilisation, need)
        recommendation = Recommendation(
            workload, NO_FIT, reason="", basis=need.basis, required_vcpus=need.vcpus,
            required_memory_mib=need.memory_mib, engine=engine, utilisation=utilisation,
            multi_az=engine is not None and policy.production_tag in workload.tags,
        )
        if fit is None:
            where = f"{engine} RDS class" if engine else "EC2 instance type"
            recommendation.reason = (f"No {where} in the {self.prices.region} price table allowed by the policy has "
                                     f"{need.vcpus} vCPU and {gib(need.memory_mib)} GiB. {why}")
            return recommendation
        recommendation.action = REPLATFORM_RDS if engine else REHOST_EC2
        recommendation.target, recommendation.hourly = fit.name, fit.hourly
        recommendation.vcpus, recommendation.memory_mib = fit.vcpus, fit.memory_mib
        deployment = (" Multi-AZ (production)" if recommendation.multi_az else " Single-AZ") if engine else ""
        recommendation.reason = f"{why} Cheapest fit: {fit.name}{deployment} ({fit.vcpus} vCPU, {gib(fit.memory_mib)} GiB)."
        return recommendation

    def _cheapest(self, engine, vcpus, memory_mib):
        key = (engine, vcpus, memory_mib)
        if key not in self._memo:
            candidates = self._rds.get(engine, []) if engine else self._ec2
            self._memo[key] = cheapest_fit(candidates, vcpus, memory_mib)
        return self._memo[key]

    def _basis_text(self, workload, utilisation, need):
        policy = self.policy
        if utilisation is None:
            return (f"Sized from allocation, no utilisation data: {need.vcpus} vCPU and {gib(need.memory_mib)} GiB "
                    f"as on premises.")
        return (f"Sized from utilisation (p95 CPU {plain(utilisation.p95_cpu_percent)}%, p95 memory "
                f"{plain(utilisation.p95_memory_percent)}% over {utilisation.days} days) with "
                f"{plain(policy.cpu_headroom)}× CPU and {plain(policy.memory_headroom)}× memory headroom: needs "
                f"{need.vcpus} vCPU and {gib(need.memory_mib)} GiB (of {workload.vcpus} vCPU, "
                f"{gib(workload.memory_mib)} GiB).")
