"""The shipped price table, the AWS price list parser and the refresh_prices command."""

import functools
import http.server
import json
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from cloud import conf
from cloud.drivers import price_list
from cloud.services import prices

from .conftest import FIXTURES

EC2_OFFER = FIXTURES / "offer-ec2-us-east-1.json"
RDS_OFFER = FIXTURES / "offer-rds-us-east-1.json"
FAMILIES = ("t3", "m5", "m6i", "m7i", "c5", "c6i", "c7i", "r5", "r6i", "r7i")
SIZES = ("large", "xlarge", "2xlarge", "4xlarge")


def test_the_shipped_table_says_where_its_prices_come_from():
    data = json.loads((conf.DATA_DIR / "prices-us-east-1.json").read_text())
    assert data["region"] == "us-east-1" and data["currency"] == "USD"
    assert "AWS public on-demand prices" in data["source"] and "us-east-1" in data["source"]
    assert data["published"] and data["retrieved"]
    assert all(entry["basis"] for entry in data["ec2"].values())
    assert any("linear" in note for note in data["notes"])


def test_the_shipped_table_covers_the_common_families_and_their_rds_classes(shipped_prices):
    for family in FAMILIES:
        for size in SIZES if family != "t3" else SIZES[:3]:  # t3 stops at 2xlarge
            assert f"{family}.{size}" in shipped_prices.ec2
    for engine in ("postgres", "mysql"):
        for family in ("t3", "m5", "m6i", "r5", "r6i"):
            for size in ("large", "xlarge", "2xlarge"):
                assert f"db.{family}.{size}" in shipped_prices.rds[engine]
    assert shipped_prices.ebs_gp3_gb_month > 0 and shipped_prices.rds_gp3_gb_month > 0


def test_derived_prices_scale_linearly_within_their_family(shipped_prices):
    """An entry marked "linear from X.large" costs X.large's price × (its vCPUs / 2)."""
    derived = [e for e in shipped_prices.ec2.values() if e.basis != "published"]
    assert derived
    for entry in derived:
        base = shipped_prices.ec2[entry.basis.removeprefix("linear from ")]
        assert entry.hourly == base.hourly * entry.vcpus / base.vcpus, entry.name
    for engine, classes in shipped_prices.rds.items():
        for entry in classes.values():
            if entry.basis != "published":
                base = classes[entry.basis.removeprefix("linear from ")]
                ratio = Decimal(shipped_prices.ec2[entry.ec2_twin].vcpus) / shipped_prices.ec2[base.ec2_twin].vcpus
                assert entry.hourly == base.hourly * ratio, (engine, entry.name)


def test_every_rds_class_has_its_ec2_twin(shipped_prices):
    for classes in shipped_prices.rds.values():
        for entry in classes.values():
            assert entry.ec2_twin in shipped_prices.ec2, entry.name


def test_no_price_table_for_a_region_says_how_to_get_one():
    with pytest.raises(prices.NoPriceTable, match="refresh_prices --region ap-south-2"):
        prices.price_table("ap-south-2")


# --- the AWS price list parser ------------------------------------------------------------------


def test_ec2_offer_keeps_only_on_demand_linux_shared_prices():
    offer = price_list.read_ec2_offer(EC2_OFFER, "us-east-1")
    assert offer.publication_date == "2026-11-20T00:00:00Z"
    assert offer.version == "20261120000000"
    # Windows, dedicated, SQL, unused reservations, other regions and local zones are left out; a
    # zero price is no price; the reserved term is not the on-demand price.
    assert set(offer.instances) == {"m7i.large", "m6g.large", "m4.large", "x2iedn.32xlarge", "t3.micro", "m5.metal"}
    assert offer.instances["m7i.large"] == {"hourly": Decimal("0.1008"), "vcpus": 2, "memory_mib": 8192,
                                            "current_generation": True, "architecture": "x86_64"}
    assert offer.instances["m6g.large"]["architecture"] == "arm64"
    assert offer.instances["m4.large"]["current_generation"] is False
    assert offer.instances["x2iedn.32xlarge"]["memory_mib"] == 4096 * 1024
    assert offer.storage == {"gp3": Decimal("0.08")}


def test_rds_offer_keeps_single_az_postgres_and_mysql():
    offer = price_list.read_rds_offer(RDS_OFFER, "us-east-1")
    assert offer.engines == {
        "postgres": {"db.m5.large": {"hourly": Decimal("0.178"), "current_generation": True},
                     "db.t2.micro": {"hourly": Decimal("0.018"), "current_generation": False}},
        "mysql": {"db.m5.large": {"hourly": Decimal("0.171"), "current_generation": True}},
    }
    assert offer.storage == {"gp3": Decimal("0.115")}


def test_a_file_that_is_not_a_price_list_is_refused(tmp_path):
    broken = tmp_path / "index.json"
    broken.write_text("<html>503 Service Unavailable</html>")
    with pytest.raises(price_list.PriceListError, match="not a price list file"):
        price_list.read_ec2_offer(broken, "us-east-1")


def test_the_price_list_urls_are_aws_public_offer_files():
    assert price_list.offer_url(conf.DEFAULTS["OPSCONSOLE_PRICE_LIST_URL"], "AmazonEC2", "eu-west-1") == \
        "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/eu-west-1/index.json"


# --- the refresh_prices command --------------------------------------------------------------------


def check_refreshed(path, source_fragment):
    data = json.loads(Path(path).read_text())
    table = prices.price_table("us-east-1")
    assert table.path == str(path)  # the refreshed table now wins over the shipped one
    assert table.ec2["m7i.large"].hourly == Decimal("0.1008")
    assert table.ec2["m5.metal"].bare_metal and table.ec2["t3.micro"].burstable
    assert table.rds["postgres"]["db.m5.large"].hourly == Decimal("0.178")
    assert table.rds["postgres"]["db.t2.micro"].current_generation is False
    assert (table.ebs_gp3_gb_month, table.rds_gp3_gb_month) == (Decimal("0.08"), Decimal("0.115"))
    assert source_fragment in data["source"]
    assert data["published"] == "2026-11-18T00:00:00Z / 2026-11-20T00:00:00Z"
    return table


def test_refresh_from_downloaded_files_replaces_the_shipped_table(settings, capsys):
    call_command("refresh_prices", "--ec2-file", str(EC2_OFFER), "--rds-file", str(RDS_OFFER))
    path = Path(settings.VAR_DIR) / "cloud" / "prices-us-east-1.json"
    assert path.exists()
    check_refreshed(path, str(EC2_OFFER))
    assert "6 EC2 instance types" in capsys.readouterr().out


@pytest.fixture
def price_list_server(tmp_path):
    """AWS's price list URL layout, served from the fixtures on 127.0.0.1."""
    root = tmp_path / "served"
    for offer, fixture in (("AmazonEC2", EC2_OFFER), ("AmazonRDS", RDS_OFFER)):
        target = root / "offers/v1.0/aws" / offer / "current/us-east-1/index.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(fixture.read_bytes())

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_refresh_downloads_the_offer_files(settings, price_list_server, tmp_path):
    settings.OPSCONSOLE_PRICE_LIST_URL = price_list_server
    call_command("refresh_prices", "--region", "us-east-1", "--output-dir", str(tmp_path / "out"))
    path = tmp_path / "out" / "prices-us-east-1.json"
    data = json.loads(path.read_text())
    assert f"{price_list_server}/offers/v1.0/aws/AmazonEC2/current/us-east-1/index.json" in data["source"]
    assert data["ec2"]["m7i.large"]["hourly"] == "0.1008"


def test_refresh_without_internet_fails_with_a_clear_message(settings, closed_port):
    settings.OPSCONSOLE_PRICE_LIST_URL = f"http://127.0.0.1:{closed_port}"
    with pytest.raises(CommandError) as failure:
        call_command("refresh_prices", "--timeout", "5")
    message = str(failure.value)
    assert message.startswith(f"Cannot download the AWS price list from http://127.0.0.1:{closed_port}/offers/")
    assert "--ec2-file" in message
    assert not (Path(settings.VAR_DIR) / "cloud" / "prices-us-east-1.json").exists()


def test_refresh_refuses_a_file_without_prices(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"formatVersion": "v1.0", "products": {}, "terms": {"OnDemand": {}}}))
    with pytest.raises(CommandError, match="has no EC2 instance prices"):
        call_command("refresh_prices", "--ec2-file", str(empty), "--rds-file", str(RDS_OFFER),
                     "--output-dir", str(tmp_path))
    with pytest.raises(CommandError, match="No such file"):
        call_command("refresh_prices", "--ec2-file", str(tmp_path / "missing.json"), "--rds-file", str(RDS_OFFER))
