"""Ansible dynamic inventory: point an inventory script at `manage.py ansible_inventory`.

    ansible-inventory -i inventory.sh --list     # inventory.sh: exec manage.py ansible_inventory "$@"
"""

import json

from django.core.management.base import BaseCommand

from inventory import ansible


class Command(BaseCommand):
    help = "Print the inventory as an Ansible dynamic inventory (--list) or one host's variables (--host NAME)."

    def add_arguments(self, parser):
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--list", action="store_true", help="All groups and host variables")
        what.add_argument("--host", metavar="NAME", help="One host's variables ({} when unknown)")
        parser.add_argument("--indent", type=int, default=None, help="Pretty-print with this indent")

    def handle(self, *args, **options):
        if options["list"]:
            data = ansible.build_inventory()
        else:
            data = ansible.host_vars_by_name(options["host"])
        self.stdout.write(json.dumps(data, indent=options["indent"], sort_keys=True))
