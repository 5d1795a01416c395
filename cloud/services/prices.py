"""The price table: AWS on-demand prices per region, shipped as data with its source and
date (cloud/data/prices-<region>.json) and refreshable from AWS's price list bulk files
(`manage.py refresh_prices`, which writes var/cloud/prices-<region>.json; a refreshed
table wins over the shipped one).

    table = price_table("us-east-1")      # loaded once per process and file version
    table.ec2["m7i.large"].hourly          # Decimal("0.1008") per hour
    table.rds_price("postgres", "db.m5.large")

File format (version 1): {"format", "region", "currency", "source", "published",
"retrieved", "notes": [...], "ec2": {type: {hourly, vcpus, memory_mib,
current_generation, burstable, bare_metal, architecture, basis}}, "rds": {engine:
{class: {hourly, current_generation, basis}}}, "storage": {"ebs_gp3_gb_month",
"rds_gp3_gb_month"}}. Prices are strings (exact decimals).
"""

import json
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from threading import Lock

from .. import conf
from ..drivers import price_list

FORMAT = 1
HOURS_PER_MONTH = Decimal("730")
ENGINES = ("postgres", "mysql")
BURSTABLE_FAMILY = re.compile(r"^t\d")


class NoPriceTable(Exception):
    """No price table for a region (the message says how to get one)."""


@dataclass(frozen=True)
class Ec2Price:
    name: str
    hourly: Decimal
    vcpus: int
    memory_mib: int
    current_generation: bool
    burstable: bool
    bare_metal: bool
    architecture: str
    basis: str = "published"

    @property
    def family(self):
        return self.name.split(".", 1)[0]


@dataclass(frozen=True)
class RdsPrice:
    name: str  # db.m5.large
    hourly: Decimal
    current_generation: bool = True
    basis: str = "published"

    @property
    def ec2_twin(self):
        """The EC2 type of the same name, whose vCPU and memory the class has."""
        return self.name.removeprefix("db.")


@dataclass(frozen=True)
class PriceTable:
    region: str
    currency: str
    source: str
    published: str
    retrieved: str
    ec2: dict = field(repr=False)  # name -> Ec2Price
    rds: dict = field(repr=False)  # engine -> {class -> RdsPrice}
    ebs_gp3_gb_month: Decimal = Decimal("0")
    rds_gp3_gb_month: Decimal = Decimal("0")
    notes: tuple = ()
    path: str = ""

    def rds_price(self, engine, db_class):
        entry = self.rds.get(engine, {}).get(db_class)
        return entry.hourly if entry else None

    def describe(self):
        """Where the prices come from, for results and pages."""
        return {"region": self.region, "currency": self.currency, "source": self.source,
                "published": self.published, "retrieved": self.retrieved}


# --- loading ---------------------------------------------------------------------------

_cache = {}
_cache_lock = Lock()


def price_table_path(region):
    """The refreshed table when there is one, else the shipped one, else None."""
    for directory in (conf.refreshed_prices_dir(), conf.DATA_DIR):
        path = Path(directory) / f"prices-{region}.json"
        if path.exists():
            return path
    return None


def available_regions():
    regions = set()
    for directory in (conf.refreshed_prices_dir(), conf.DATA_DIR):
        regions.update(p.name.removeprefix("prices-").removesuffix(".json") for p in Path(directory).glob("prices-*.json"))
    return sorted(regions)


def price_table(region):
    """The PriceTable of `region`, read once per process and file version (the file's
    modification time): assessing thousands of workloads reads it once."""
    path = price_table_path(region)
    if path is None:
        raise NoPriceTable(
            f"No price table for region {region}. Shipped: {', '.join(available_regions()) or 'none'}. "
            f"Run `manage.py refresh_prices --region {region}` where the internet is reachable."
        )
    key = (str(path), path.stat().st_mtime_ns)
    with _cache_lock:
        table = _cache.get(key)
        if table is None:
            table = _cache[key] = table_from_dict(json.loads(path.read_text()), path=str(path))
    return table


def table_from_dict(data, path=""):
    if data.get("format") != FORMAT:
        raise ValueError(f"{path or 'price table'}: unknown format {data.get('format')!r} (expected {FORMAT})")
    ec2 = {
        name: Ec2Price(
            name=name, hourly=Decimal(entry["hourly"]), vcpus=int(entry["vcpus"]), memory_mib=int(entry["memory_mib"]),
            current_generation=bool(entry.get("current_generation", True)),
            burstable=bool(entry.get("burstable", is_burstable(name))),
            bare_metal=bool(entry.get("bare_metal", is_bare_metal(name))),
            architecture=entry.get("architecture", "x86_64"), basis=entry.get("basis", "published"),
        )
        for name, entry in data.get("ec2", {}).items()
    }
    rds = {
        engine: {
            name: RdsPrice(name=name, hourly=Decimal(entry["hourly"]),
                           current_generation=bool(entry.get("current_generation", True)),
                           basis=entry.get("basis", "published"))
            for name, entry in classes.items()
        }
        for engine, classes in data.get("rds", {}).items()
    }
    storage = data.get("storage", {})
    return PriceTable(
        region=data["region"], currency=data.get("currency", "USD"), source=data.get("source", ""),
        published=str(data.get("published", "")), retrieved=str(data.get("retrieved", "")), ec2=ec2, rds=rds,
        ebs_gp3_gb_month=Decimal(storage.get("ebs_gp3_gb_month", "0")),
        rds_gp3_gb_month=Decimal(storage.get("rds_gp3_gb_month", "0")),
        notes=tuple(data.get("notes", ())), path=path,
    )


def is_burstable(name):
    return bool(BURSTABLE_FAMILY.match(name))


def is_bare_metal(name):
    return name.rsplit(".", 1)[-1].startswith("metal")


# --- refreshing from AWS's price list ---------------------------------------------------


def table_from_offers(ec2_offer, rds_offer, region, urls=(), retrieved=None):
    """A price table (as a dict, ready to write) from the offers read by
    cloud.drivers.price_list: every EC2 instance type with an on-demand Linux price,
    PostgreSQL and MySQL Single-AZ classes, gp3 storage."""
    retrieved = retrieved or date.today().isoformat()
    missing = [what for what, found in (("EC2 instance prices", ec2_offer.instances),
                                        ("the EBS gp3 price", ec2_offer.storage.get("gp3")),
                                        ("RDS instance prices", rds_offer.engines)) if not found]
    if missing:
        raise price_list.PriceListError(f"The price list for {region} has no {', '.join(missing)}: is it the right file?")
    ec2 = {
        name: {
            "hourly": _text(entry["hourly"]), "vcpus": entry["vcpus"], "memory_mib": entry["memory_mib"],
            "current_generation": entry["current_generation"], "burstable": is_burstable(name),
            "bare_metal": is_bare_metal(name), "architecture": entry["architecture"], "basis": "published",
        }
        for name, entry in sorted(ec2_offer.instances.items())
    }
    rds = {
        engine: {name: {"hourly": _text(entry["hourly"]), "current_generation": entry["current_generation"],
                        "basis": "published"} for name, entry in sorted(classes.items())}
        for engine, classes in sorted(rds_offer.engines.items())
    }
    published = " / ".join(sorted({o.publication_date for o in (ec2_offer, rds_offer) if o.publication_date}))
    return {
        "format": FORMAT,
        "region": region,
        "currency": "USD",
        "source": "AWS price list bulk files (public on-demand offers): " + ", ".join(urls or (ec2_offer.offer, rds_offer.offer)),
        "published": published or "unknown",
        "retrieved": retrieved,
        "notes": [
            "EC2: Linux, shared tenancy, no pre-installed software, on demand, per instance-hour.",
            "RDS: PostgreSQL and MySQL, Single-AZ, on demand, per instance-hour (Multi-AZ is twice the instance).",
            f"Offer versions: EC2 {ec2_offer.version or '?'}, RDS {rds_offer.version or '?'}.",
        ],
        "ec2": ec2,
        "rds": rds,
        "storage": {"ebs_gp3_gb_month": _text(ec2_offer.storage["gp3"]),
                    "rds_gp3_gb_month": _text(rds_offer.storage.get("gp3", Decimal("0")))},
    }


def write_price_table(data, directory=None):
    """Write a table dict to <directory>/prices-<region>.json (default var/cloud/) atomically."""
    directory = Path(directory or conf.refreshed_prices_dir())
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"prices-{data['region']}.json"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(data, indent=1) + "\n")
    temporary.replace(path)
    return path


def _text(value):
    return f"{Decimal(value).normalize():f}"
