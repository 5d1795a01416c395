from django.core.management.base import BaseCommand

from hypervisors.demo import load_lab_demo
from hypervisors.labconfig import configured_fallback, configured_lab


class Command(BaseCommand):
    help = ("Register the running lab's hypervisors in the inventory and boot the demo guests (idempotent); "
            "on the test-driver fallback, its one fake hypervisor and the guests that belong on it.")

    def handle(self, **options):
        lab, fallback = configured_lab(), configured_fallback()
        status = lab.status()
        if status and all(status.values()):
            load_lab_demo(lab.load(), log=self.stdout.write, shared_storage_path=str(lab.shared_storage))
            return
        status = fallback.status()
        if status and all(status.values()):
            self.stdout.write("demo: on libvirt's test driver (the QEMU lab could not run here): one fake hypervisor, "
                              "guests that never really boot")
            load_lab_demo(fallback.load(), log=self.stdout.write)
            return
        self.stdout.write("demo: the lab is not running (make lab); no hypervisors registered")
