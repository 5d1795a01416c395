import sys

from django.core.management.base import BaseCommand, CommandError

from hypervisors.lab import LabError
from hypervisors.labconfig import configured_lab


class Command(BaseCommand):
    help = "Start, stop or show the lab: real libvirtd + QEMU hypervisors on this machine."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["up", "down", "status"])

    def handle(self, action, **options):
        lab = configured_lab()
        try:
            if action == "up":
                hosts = lab.up(log=self.stdout.write)
                self.stdout.write(f"lab: {len(hosts)} hypervisors, shared storage {lab.shared_storage}")
            elif action == "down":
                lab.down(log=self.stdout.write)
            else:
                status = lab.status()
                if not status:
                    self.stdout.write("lab: not running")
                for name, alive in status.items():
                    self.stdout.write(f"lab: {name} {'up' if alive else 'DOWN'}")
                if status and not all(status.values()):
                    sys.exit(1)
        except LabError as exc:
            raise CommandError(f"lab: {exc}") from exc
