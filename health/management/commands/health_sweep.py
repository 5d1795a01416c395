"""Run a health sweep in the foreground and print what it found (no worker needed)."""

from django.core.management.base import BaseCommand

from health.models import Check
from health.services import sweep


class Command(BaseCommand):
    help = "Check hosts now (all checked hosts by default) and print each failing check."

    def add_arguments(self, parser):
        parser.add_argument("hostnames", nargs="*", help="Only these hosts")
        parser.add_argument("--check", action="append", choices=Check.values, help="Only these checks (repeatable)")
        parser.add_argument("--concurrency", type=int, default=None)

    def handle(self, *args, **options):
        host_ids = None
        if options["hostnames"]:
            from inventory.models import Host

            host_ids = list(Host.objects.filter(hostname__in=options["hostnames"]).values_list("pk", flat=True))
        summary = sweep.sweep(host_ids=host_ids, checks=options["check"], concurrency=options["concurrency"])
        self.stdout.write(f"{summary['hosts']} hosts, {summary['checks']} checks, {summary['failed_checks']} failed, "
                          f"in {summary['seconds']} s; states: {summary['states']}")
        for row in summary["failing"]:
            self.stdout.write(f"  {row['host']}: {row['state']}, failing {', '.join(row['checks'])}")
