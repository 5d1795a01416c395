"""Refresh a region's price table from AWS's public price list bulk files."""

import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cloud import conf
from cloud.drivers import price_list
from cloud.services import prices


class Command(BaseCommand):
    help = ("Read AWS's public price list (EC2 and RDS offer files of a region, no credentials needed) and "
            "write the region's price table to var/cloud/prices-<region>.json, which then replaces the shipped "
            "one. Needs internet access, or the offer files given with --ec2-file and --rds-file.")

    def add_arguments(self, parser):
        parser.add_argument("--region", default="us-east-1")
        parser.add_argument("--ec2-file", type=Path, help="An AmazonEC2 offer file (index.json) already downloaded")
        parser.add_argument("--rds-file", type=Path, help="An AmazonRDS offer file (index.json) already downloaded")
        parser.add_argument("--output-dir", type=Path, help="Where to write (default: var/cloud/)")
        parser.add_argument("--timeout", type=float, default=30, help="Seconds to wait for the price list server")

    def handle(self, *args, region, ec2_file, rds_file, output_dir, timeout, **options):
        base = conf.price_list_url()
        urls = {offer: price_list.offer_url(base, offer, region) for offer in (price_list.EC2_OFFER, price_list.RDS_OFFER)}
        try:
            with tempfile.TemporaryDirectory(prefix="opsconsole-prices-") as scratch:
                ec2_path = ec2_file or self._download(urls[price_list.EC2_OFFER], Path(scratch) / "ec2.json", timeout)
                rds_path = rds_file or self._download(urls[price_list.RDS_OFFER], Path(scratch) / "rds.json", timeout)
                for path in (ec2_path, rds_path):
                    if not Path(path).is_file():
                        raise price_list.PriceListError(f"No such file: {path}")
                self.stdout.write(f"Reading {ec2_path} and {rds_path}…")
                ec2 = price_list.read_ec2_offer(ec2_path, region)
                rds = price_list.read_rds_offer(rds_path, region)
                sources = [str(ec2_file) if ec2_file else urls[price_list.EC2_OFFER],
                           str(rds_file) if rds_file else urls[price_list.RDS_OFFER]]
                table = prices.table_from_offers(ec2, rds, region, urls=sources)
        except price_list.PriceListError as exc:
            raise CommandError(str(exc)) from exc
        path = prices.write_price_table(table, output_dir)
        engines = ", ".join(f"{len(classes)} {engine}" for engine, classes in table["rds"].items())
        self.stdout.write(self.style.SUCCESS(
            f"Wrote {path}: {len(table['ec2'])} EC2 instance types, RDS classes: {engines}; "
            f"published {table['published']}."
        ))

    def _download(self, url, destination, timeout):
        self.stdout.write(f"Downloading {url}…")
        return price_list.download(url, destination, timeout=timeout)
