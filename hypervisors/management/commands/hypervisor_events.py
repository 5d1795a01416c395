import signal
import threading

from django.core.management.base import BaseCommand

from hypervisors.services.events import EventListener


class Command(BaseCommand):
    help = ("Listen to libvirt domain lifecycle events on every enabled hypervisor and record VM state "
            "changes as they happen (reconnects to hypervisors that go away, picks up new ones).")

    def add_arguments(self, parser):
        parser.add_argument("--refresh", type=float, default=30.0,
                            help="Seconds between looks for added, removed or disabled hypervisors (default 30)")
        parser.add_argument("--retry", type=float, default=5.0,
                            help="Seconds between reconnection attempts to an unreachable hypervisor (default 5)")

    def handle(self, refresh, retry, **options):
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        listener = EventListener(refresh_interval=refresh, retry_interval=retry, log=self._say)
        self._say("events: started")
        listener.run(stop)
        self._say("events: stopped")

    def _say(self, line):
        self.stdout.write(line)
        self.stdout.flush()
