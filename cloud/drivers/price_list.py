"""AWS's public price list bulk files ("offer files"): on-demand prices, no credentials.

    {base}/offers/v1.0/aws/AmazonEC2/current/<region>/index.json
    {base}/offers/v1.0/aws/AmazonRDS/current/<region>/index.json

An offer file holds "products" (sku -> productFamily and attributes) and then "terms"
("OnDemand": sku -> term -> priceDimensions -> pricePerUnit). The EC2 file of a big
region runs to gigabytes, so it is downloaded to disk in chunks and read as a stream
(ijson), twice: products first (keeping the few we want), then their on-demand terms.
Nothing here knows about our price table format; cloud.services.prices builds it.
"""

import re
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import ijson

OFFER_PATH = "/offers/v1.0/aws/{offer}/current/{region}/index.json"
EC2_OFFER, RDS_OFFER = "AmazonEC2", "AmazonRDS"
RDS_ENGINES = {"PostgreSQL": "postgres", "MySQL": "mysql"}
CHUNK = 1024 * 1024


class PriceListError(Exception):
    """The price list could not be downloaded or read; the message says why."""


def offer_url(base_url, offer, region):
    return base_url.rstrip("/") + OFFER_PATH.format(offer=offer, region=region)


def download(url, destination, timeout=30):
    """Save `url` to `destination` in chunks; PriceListError with the reason when it fails."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer, open(destination, "wb") as out:
            shutil.copyfileobj(answer, out, CHUNK)
    except urllib.error.HTTPError as exc:
        raise PriceListError(f"The price list server answered {exc.code} {exc.reason} for {url}.") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PriceListError(
            f"Cannot download the AWS price list from {url}: {reason}. This machine may have no internet "
            f"access: download the file where there is, and pass it with --ec2-file / --rds-file."
        ) from exc
    return Path(destination)


@dataclass
class OfferPrices:
    """What we read from one offer file."""

    offer: str
    region: str
    publication_date: str = ""
    version: str = ""
    instances: dict = field(default_factory=dict)  # EC2: type -> {hourly, vcpus, memory_mib, ...}
    engines: dict = field(default_factory=dict)  # RDS: engine -> {class -> {hourly, current_generation}}
    storage: dict = field(default_factory=dict)  # "gp3" -> price per GB-month


def read_ec2_offer(path, region):
    """On-demand Linux prices (shared tenancy, no pre-installed software) of every EC2
    instance type, and the EBS gp3 price, from an AmazonEC2 offer file."""
    prices = OfferPrices(EC2_OFFER, region, **_header(path))
    wanted = {}
    for sku, product in _products(path):
        attributes = product.get("attributes", {})
        if not _in_region(attributes, region):
            continue
        family = product.get("productFamily")
        if family == "Compute Instance" and _is_linux_on_demand_box(attributes):
            wanted[sku] = ("instance", attributes)
        elif family == "Storage" and attributes.get("volumeApiName") == "gp3":
            wanted[sku] = ("storage", attributes)
    for _sku, (kind, attributes), price in _on_demand_prices(path, wanted):
        if kind == "storage":
            prices.storage.setdefault("gp3", price)
        elif price > 0:
            name = attributes["instanceType"]
            prices.instances[name] = {
                "hourly": price,
                "vcpus": int(attributes.get("vcpu", "0") or 0),
                "memory_mib": _memory_mib(attributes.get("memory", "")),
                "current_generation": attributes.get("currentGeneration", "Yes") == "Yes",
                "architecture": "arm64" if "graviton" in attributes.get("physicalProcessor", "").lower() else "x86_64",
            }
    return prices


def read_rds_offer(path, region):
    """Single-AZ on-demand prices of PostgreSQL and MySQL instance classes, and the
    gp3 storage price, from an AmazonRDS offer file."""
    prices = OfferPrices(RDS_OFFER, region, **_header(path))
    wanted = {}
    for sku, product in _products(path):
        attributes = product.get("attributes", {})
        if not _in_region(attributes, region) or attributes.get("deploymentOption") != "Single-AZ":
            continue
        family = product.get("productFamily")
        if family == "Database Instance" and attributes.get("databaseEngine") in RDS_ENGINES:
            wanted[sku] = ("instance", attributes)
        elif family == "Database Storage" and _is_gp3_storage(attributes):
            wanted[sku] = ("storage", attributes)
    for _sku, (kind, attributes), price in _on_demand_prices(path, wanted):
        if kind == "storage":
            prices.storage.setdefault("gp3", price)
        elif price > 0:
            engine = RDS_ENGINES[attributes["databaseEngine"]]
            prices.engines.setdefault(engine, {})[attributes["instanceType"]] = {
                "hourly": price, "current_generation": attributes.get("currentGeneration", "Yes") == "Yes",
            }
    return prices


# --- reading ------------------------------------------------------------------------


def _header(path):
    """publicationDate and version: top-level keys that come before the products."""
    found = {}
    with open(path, "rb") as stream:
        try:
            for prefix, event, value in ijson.parse(stream):
                if prefix == "publicationDate" and event == "string":
                    found["publication_date"] = value
                elif prefix == "version" and event == "string":
                    found["version"] = value
                elif prefix in ("products", "terms"):
                    break
        except ijson.JSONError as exc:
            raise PriceListError(f"{path} is not a price list file (not JSON: {exc}).") from exc
    return found


def _products(path):
    with open(path, "rb") as stream:
        try:
            yield from ijson.kvitems(stream, "products")
        except ijson.JSONError as exc:
            raise PriceListError(f"{path} is not a readable price list file: {exc}") from exc


def _on_demand_prices(path, wanted):
    """(sku, what we kept of its product, price per unit in USD) for the wanted skus."""
    with open(path, "rb") as stream:
        try:
            for sku, terms in ijson.kvitems(stream, "terms.OnDemand"):
                if sku in wanted:
                    price = _first_price(terms)
                    if price is not None:
                        yield sku, wanted[sku], price
        except ijson.JSONError as exc:
            raise PriceListError(f"{path} is not a readable price list file: {exc}") from exc


def _first_price(terms):
    for term in terms.values():
        for dimension in term.get("priceDimensions", {}).values():
            usd = dimension.get("pricePerUnit", {}).get("USD")
            try:
                return Decimal(str(usd)).normalize()
            except (InvalidOperation, TypeError):
                continue
    return None


def _in_region(attributes, region):
    # Regional files hold only their region; older ones have no regionCode at all.
    return attributes.get("regionCode", region) == region and attributes.get("locationType", "AWS Region") == "AWS Region"


def _is_linux_on_demand_box(attributes):
    return (
        attributes.get("operatingSystem") == "Linux"
        and attributes.get("tenancy") == "Shared"
        and attributes.get("preInstalledSw", "NA") == "NA"
        and attributes.get("capacitystatus", "Used") == "Used"
        and attributes.get("operation", "RunInstances") == "RunInstances"
        and bool(attributes.get("instanceType"))
    )


def _is_gp3_storage(attributes):
    return "gp3" in attributes.get("volumeType", "").lower() or attributes.get("usagetype", "").endswith("GP3-Storage")


def _memory_mib(text):
    """'8 GiB' -> 8192, '0.5 GiB' -> 512, '1,952 GiB' -> 1998848."""
    match = re.match(r"\s*([\d.,]+)\s*GiB", text or "")
    if not match:
        return 0
    return int(Decimal(match.group(1).replace(",", "")) * 1024)
