"""The embedded cloud's demo: its account, the default sizing policy, on-premises cost
models and a few measured utilisations that tell the seed story in the right-sizing page
(luna is busy, jupiter mostly idle, superman a big production database, and thor,
the web server by lunch-table vote, serves nobody: retire him).

Idempotent: what exists is left alone, so an admin's edits survive another `make run`.
The money figures are demo assumptions, to be replaced with the site's own.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from inventory.models import Host, Role

from .models import OnPremCostModel, SizingPolicy, UtilisationRecord
from .services.accounts import ensure_embedded_account

# kind, role slug (None: default), name, hardware amortisation, power, rack, licences (per month)
COST_MODELS = (
    ("host", None, "Physical server (demo figures)", "280", "95", "55", "40"),
    ("host", "db", "Database server with support contracts (demo figures)", "420", "130", "55", "900"),
    ("vm", None, "Virtual machine share of a hypervisor (demo figures)", "35", "10", "5", "20"),
)
# hostname: p95 CPU %, p95 memory %, max CPU %, days
UTILISATION = {
    "luna": ("35", "40", "70", 30),
    "jupiter": ("8", "20", "25", 30),
    "superman": ("45", "80", "90", 30),
    "thor": ("0.8", "15", "1.2", 30),
}


@dataclass
class CloudDemoResult:
    account: str = ""
    account_created: bool = False
    created: list = field(default_factory=list)


@transaction.atomic
def load_cloud_demo():
    result = CloudDemoResult()
    account, result.account_created = ensure_embedded_account()
    result.account = f"{account.name} ({account.endpoint_url})"
    if SizingPolicy.objects.filter(name="default").exists() is False:
        SizingPolicy.default()
        result.created.append("default sizing policy")
    roles = {role.slug: role for role in Role.objects.filter(slug__in=[m[1] for m in COST_MODELS if m[1]])}
    for kind, role_slug, name, hardware, power, rack, licences in COST_MODELS:
        role = roles.get(role_slug) if role_slug else None
        if role_slug and role is None:
            continue  # the inventory demo is not loaded
        if OnPremCostModel.objects.filter(kind=kind, role=role).exists():
            continue
        OnPremCostModel.objects.create(kind=kind, role=role, name=name, hardware_amortisation=Decimal(hardware),
                                       power=Decimal(power), rack=Decimal(rack), licences=Decimal(licences))
        result.created.append(f"cost model {name}")
    hosts = Host.objects.filter(hostname__in=UTILISATION, utilisation__isnull=True)
    for host in hosts:
        p95_cpu, p95_memory, max_cpu, days = UTILISATION[host.hostname]
        UtilisationRecord.objects.create(
            host=host, p95_cpu_percent=Decimal(p95_cpu), p95_memory_percent=Decimal(p95_memory),
            max_cpu_percent=Decimal(max_cpu), days=days, source="demo",
            measured_at=timezone.now() - timedelta(hours=1),
        )
        result.created.append(f"utilisation of {host.hostname}")
    return result
