from django.core.management.base import BaseCommand

from inventory.demo import load_demo


class Command(BaseCommand):
    help = "Load the demo estate (Amsterdam DC1: luna, superman, odin, thor, marvin...). Safe to run again."

    def handle(self, *args, **options):
        result = load_demo()
        if result.created:
            self.stdout.write(f"Demo estate: created {len(result.created)} hosts ({', '.join(result.created)}).")
        else:
            self.stdout.write(f"Demo estate: all {len(result.existing)} demo hosts already there; nothing changed.")
        for hostname, reason in result.skipped.items():
            self.stderr.write(f"Demo host {hostname} skipped: {reason}")
