import shutil
import signal
import sys
import threading

from django.core.management.base import BaseCommand, CommandError

from hypervisors import labconfig
from hypervisors.lab import LabError


class Command(BaseCommand):
    help = ("Start, stop or show the lab: real libvirtd + QEMU hypervisors and physical hosts on this machine, or, "
            "where that cannot run (not root, packages missing), libvirt's test driver served by one libvirtd.")

    def add_arguments(self, parser):
        parser.add_argument(
            "action", choices=["up", "down", "status", "foreground"],
            help="foreground: start the lab, keep it up while this command runs, stop it on Ctrl-C/SIGTERM",
        )

    def handle(self, action, **options):
        try:
            if action in ("up", "foreground"):
                lab = self._startable_lab()
                if action == "up":
                    hosts = lab.up(log=self.stdout.write)
                    where = f", shared storage {lab.shared_storage}" if hasattr(lab, "shared_storage") else ""
                    self.stdout.write(f"lab: {_counted(hosts)}{where}")
                else:
                    self._foreground(lab)
            elif action == "down":
                labconfig.configured_fallback().down(log=self.stdout.write)
                lab = labconfig.configured_lab()
                if lab.state_file.exists() or shutil.which("ip"):  # nothing to undo where `ip` never ran
                    lab.down(log=self.stdout.write)
            else:
                self._status()
        except LabError as exc:
            raise CommandError(f"lab: {exc}") from exc

    def _startable_lab(self):
        """The QEMU lab, else (saying why, in one line) the test-driver fallback, else an error."""
        choice = labconfig.choose_lab()
        if choice.kind == labconfig.QEMU:
            return labconfig.configured_lab()
        if choice.kind == labconfig.NONE:
            raise CommandError(f"lab: cannot start: {choice.why}")
        self.stdout.write(f"lab: no QEMU lab here ({choice.why}); falling back to libvirt's test driver "
                          "served by one libvirtd")
        return labconfig.configured_fallback()

    def _status(self):
        status = {**labconfig.configured_fallback().status(), **labconfig.configured_lab().status()}
        if not status:
            self.stdout.write("lab: not running")
        for name, alive in status.items():
            self.stdout.write(f"lab: {name} {'up' if alive else 'DOWN'}")
        if status and not all(status.values()):
            sys.exit(1)

    def _foreground(self, lab):
        hosts = lab.up(log=self.stdout.write)
        self.stdout.write(f"lab: {_counted(hosts)} up; stopping them on Ctrl-C", ending="\n")
        self.stdout.flush()
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        while not stop.wait(5):
            down = [name for name, alive in lab.status().items() if not alive]
            if down:
                self.stdout.write(f"lab: {', '.join(down)} not running (powered off by a test or an operator?)")
        lab.down(log=self.stdout.write)


def _counted(hosts):
    """ "4 hypervisors, 2 physical hosts" """
    hypervisors = sum(1 for host in hosts.values() if host.kind == "hypervisor")
    physical = len(hosts) - hypervisors
    counted = f"{hypervisors} hypervisor{'s' if hypervisors != 1 else ''}"
    return counted + (f", {physical} physical host{'s' if physical != 1 else ''}" if physical else "")
