import signal
import sys
import threading

from django.core.management.base import BaseCommand, CommandError

from hypervisors.lab import LabError
from hypervisors.labconfig import configured_lab


class Command(BaseCommand):
    help = "Start, stop or show the lab: real libvirtd + QEMU hypervisors on this machine."

    def add_arguments(self, parser):
        parser.add_argument(
            "action", choices=["up", "down", "status", "foreground"],
            help="foreground: start the lab, keep it up while this command runs, stop it on Ctrl-C/SIGTERM",
        )

    def handle(self, action, **options):
        lab = configured_lab()
        try:
            if action == "up":
                hosts = lab.up(log=self.stdout.write)
                self.stdout.write(f"lab: {len(hosts)} hypervisors, shared storage {lab.shared_storage}")
            elif action == "foreground":
                self._foreground(lab)
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

    def _foreground(self, lab):
        hosts = lab.up(log=self.stdout.write)
        self.stdout.write(f"lab: {len(hosts)} hypervisors up; stopping them on Ctrl-C", ending="\n")
        self.stdout.flush()
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        while not stop.wait(5):
            down = [name for name, alive in lab.status().items() if not alive]
            if down:
                self.stdout.write(f"lab: {', '.join(down)} not running (powered off by a test or an operator?)")
        lab.down(log=self.stdout.write)
