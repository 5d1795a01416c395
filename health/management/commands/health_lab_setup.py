"""Make the running lab's hosts checkable over SSH: their lab addresses as management
addresses, the lab key as the "lab" SSH credential (for the hypervisor role, and for each
lab host by name: the physical ones, luna and superman, are app and database servers),
and their host keys trusted, read from the lab itself (the lab made them, so that is the
out-of-band comparison an operator would do). Idempotent."""

from django.core.management.base import BaseCommand
from django.db import transaction

from access.models import SSHCredential
from access.services import trust
from core.actions import SYSTEM
from hypervisors.labconfig import configured_lab
from inventory.models import Host, Role


class Command(BaseCommand):
    help = "Set up SSH health checks of the running lab's hosts (address, credential, trusted host keys)."

    @transaction.atomic
    def handle(self, **options):
        lab = configured_lab()
        lab_hosts = lab.load()
        if not lab_hosts:
            self.stdout.write("health: the lab is not running (make lab); nothing to set up")
            return
        credential, _ = SSHCredential.objects.update_or_create(
            name="lab", defaults={"username": "root", "port": 22, "private_key": lab.ssh_key.read_text()})
        role = Role.objects.filter(slug="hypervisor").first()
        if role:
            credential.roles.add(role)
        for name, lab_host in lab_hosts.items():
            host = Host.objects.filter(hostname=name).first()
            if host is None:
                continue
            if host.mgmt_address != lab_host.address:
                host.mgmt_address = lab_host.address
                host.save(update_fields=["mgmt_address", "updated_at"])
            credential.hosts.add(host)
            key = trust.trust_public_key(host, lab_host.ssh_host_key, user=SYSTEM)
            self.stdout.write(f"health: {name} at {lab_host.address}, host key {key.fingerprint} trusted")
