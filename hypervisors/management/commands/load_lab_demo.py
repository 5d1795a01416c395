from django.core.management.base import BaseCommand

from hypervisors.demo import load_lab_demo
from hypervisors.labconfig import configured_lab


class Command(BaseCommand):
    help = "Register the running lab's hypervisors in the inventory and boot the demo guests (idempotent)."

    def handle(self, **options):
        lab = configured_lab()
        status = lab.status()
        if not status or not all(status.values()):
            self.stdout.write("demo: the lab is not running (make lab); no hypervisors registered")
            return
        load_lab_demo(lab.load(), log=self.stdout.write)
