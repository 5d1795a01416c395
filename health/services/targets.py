"""Which hosts are checked and with what: address, SSH credential and trusted host keys,
libvirt URI, role ports, BMC address, each as a plain Target for the check threads.
Everything is read in a fixed number of queries, whatever the number of hosts."""

from collections import defaultdict

from django.core.exceptions import ObjectDoesNotExist

from access.services.credentials import CredentialBook
from access.services.trust import trusted_keys
from inventory.ansible import ansible_address
from inventory.models import Host, HostStatus

from ..checks.base import SSHAccess, Target
from ..models import PortCheck

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


def hypervisor_of(host):
    try:
        return host.hypervisor
    except ObjectDoesNotExist:
        return None


def build_targets(hosts, parse_keys=True):
    """{host id: Target} and {host id: [problems that keep a check from running]}."""
    hosts = list(hosts)
    credentials = CredentialBook()
    trusted = trusted_keys(hosts)
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
                target.ssh = SSHAccess(credential.name, credential.username, credential.port, pkey,
                                       trusted.get(host.pk, []))
        targets[host.pk] = target
    return targets, problems
