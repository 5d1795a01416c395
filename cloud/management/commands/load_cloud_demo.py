from django.core.management.base import BaseCommand

from cloud.demo import load_cloud_demo


class Command(BaseCommand):
    help = ("Create the embedded cloud's account (moto at OPSCONSOLE_CLOUD_ENDPOINT), the default sizing "
            "policy, demo on-premises cost models and utilisation figures. Safe to run again.")

    def handle(self, *args, **options):
        result = load_cloud_demo()
        state = "created" if result.account_created else "already there"
        self.stdout.write(f"Cloud demo: embedded account {result.account} {state}.")
        if result.created:
            self.stdout.write(f"Cloud demo: created {', '.join(result.created)}.")
