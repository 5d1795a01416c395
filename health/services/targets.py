"""Which hosts are checked and with what: address, SSH credential and trusted host keys,
libvirt URI, role ports, BMC address, each as a plain Target for the check threads.
Everything is read in a fixed number of queries, whatever the number of hosts."""

from collections import defaultdict

from django.core.exceptions import ObjectDoesNotExist

from inventory.ansible import ansible_address
from inventory.models import Host, HostStatus

from ..checks.base import SSHAccess, Target
from ..drivers import ssh as ssh_driver
from ..models import HostKey, PortCheck, SSHCredential

# Planned hosts are not racked yet, decommissioned ones are gone, and a migrated host's
# workload runs in the cloud now (the source is shut off, kept for a rollback): nothing to check.
UNCHECKED_STATUSES = (HostStatus.PLANNED, HostStatus.MIGRATED, HostStatus.DECOMMISSIONED)


def checked_hosts(host_ids=None):
    hosts = (
        Host.objects.exclude(status__in=UNCHECKED_STATUSES)
        .select_related("role", "site", "hypervisor")
        .prefetch_related("interfaces")
        .order_by("hostname")
    )
    if host_ids is not None:
        hosts = hosts.filter(pk__in=host_ids)
    return hosts


class CredentialBook:
    """The SSH credential of each host (own > role > default), private keys parsed once."""

    def __init__(self):
        self.credentials = {c.pk: c for c in SSHCredential.objects.all()}
        self.by_host, self.by_role = {}, {}
        # Alphabetical: when two credentials name the same host or role, the first wins.
        names = sorted(self.credentials.values(), key=lambda c: c.name)
        order = {c.pk: index for index, c in enumerate(names)}
        links = SSHCredential.hosts.through.objects.values_list("sshcredential_id", "host_id")
        for credential_id, host_id in sorted(links, key=lambda link: order[link[0]]):
            self.by_host.setdefault(host_id, self.credentials[credential_id])
        links = SSHCredential.roles.through.objects.values_list("sshcredential_id", "role_id")
        for credential_id, role_id in sorted(links, key=lambda link: order[link[0]]):
            self.by_role.setdefault(role_id, self.credentials[credential_id])
        self.default = next((c for c in names if c.is_default), None)
        self._keys = {}

    def for_host(self, host):
        return self.by_host.get(host.pk) or self.by_role.get(host.role_id) or self.default

    def private_key(self, credential):
        """(paramiko key, None) or (None, why it cannot be read)."""
        if credential.pk not in self._keys:
            try:
                self._keys[credential.pk] = (ssh_driver.load_private_key(credential.private_key, credential.passphrase), None)
            except ssh_driver.BadPrivateKey as exc:
                self._keys[credential.pk] = (None, f"credential {credential.name}: {exc}")
        return self._keys[credential.pk]


def hypervisor_of(host):
    try:
        return host.hypervisor
    except ObjectDoesNotExist:
        return None


def build_targets(hosts, parse_keys=True):
    """{host id: Target} and {host id: [problems that keep a check from running]}."""
    hosts = list(hosts)
    ids = [host.pk for host in hosts]
    credentials = CredentialBook()
    trusted = defaultdict(list)
    for host_id, key_type, key in HostKey.objects.filter(host_id__in=ids, trusted_at__isnull=False).values_list(
        "host_id", "key_type", "key"
    ):
        trusted[host_id].append((key_type, key))
    ports = defaultdict(list)
    for role_id, port, label in PortCheck.objects.values_list("role_id", "port", "label").order_by("port"):
        ports[role_id].append((port, label))
    targets, problems = {}, defaultdict(list)
    for host in hosts:
        target = Target(host_id=host.pk, hostname=host.hostname, address=ansible_address(host),
                        ports=ports.get(host.role_id, []) if host.role_id else [], bmc_address=host.bmc_address)
        hypervisor = hypervisor_of(host)
        if hypervisor is not None and hypervisor.enabled:
            target.libvirt_uri = hypervisor.uri
        credential = credentials.for_host(host)
        if credential is None:
            problems[host.pk].append("no SSH credential applies (none for the host, its role, nor a default)")
        elif not target.address:
            problems[host.pk].append("no management or interface address to reach it at")
        else:
            pkey, error = credentials.private_key(credential) if parse_keys else (None, None)
            if error:
                problems[host.pk].append(error)
            else:
                target.ssh = SSHAccess(credential.name, credential.username, credential.port, pkey, trusted[host.pk])
        targets[host.pk] = target
    return targets, problems
