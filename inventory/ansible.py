"""The inventory as an Ansible dynamic inventory.

`build_inventory()` returns what `ansible-inventory --list` expects from an inventory
script: {"_meta": {"hostvars": {...}}, "all": {"children": [...]}, "<group>": {"hosts": [...]}}.
Hosts are grouped by role (role_<slug>), site (site_<slug>), status (status_<status>)
and tag (tag_<slug>); hyphens in slugs become underscores, the only characters Ansible
accepts in group names being letters, digits and underscores. Decommissioned hosts are
left out.

Host variables: ansible_host (the management address, else the first interface
address, else not set) and opsconsole_* facts from the inventory. The prefix keeps
them apart from playbook variables, and "tags" and "serial" are reserved words in
Ansible that would draw warnings unprefixed.
"""

import re
from collections import defaultdict

from .models import Host, HostStatus

VAR_PREFIX = "opsconsole_"


def inventory_hosts():
    """The hosts Ansible may act on, with everything host_vars() reads (fixed query count)."""
    return (
        Host.objects.exclude(status=HostStatus.DECOMMISSIONED)
        .select_related("role", "site", "rack")
        .prefetch_related("tags", "interfaces")
        .order_by("hostname")
    )


def group_name(kind, value):
    return f"{kind}_{re.sub(r'[^A-Za-z0-9_]', '_', value)}"


def host_groups(host):
    groups = [group_name("site", host.site.slug), group_name("status", host.status)]
    if host.role_id:
        groups.append(group_name("role", host.role.slug))
    groups.extend(group_name("tag", tag.slug) for tag in host.tags.all())
    return groups


def ansible_address(host):
    if host.mgmt_address:
        return host.mgmt_address
    # interfaces come ordered by name (model Meta), so "first" is stable
    return next((interface.ip_address for interface in host.interfaces.all() if interface.ip_address), None)


def host_vars(host):
    facts = {
        "id": host.pk,
        "role": host.role.slug if host.role_id else None,
        "site": host.site.slug,
        "rack": host.rack.name if host.rack_id else None,
        "position": host.position,
        "status": host.status,
        "owner": host.owner,
        "tags": [tag.slug for tag in host.tags.all()],
        "vendor": host.vendor,
        "model": host.model,
        "serial": host.serial,
    }
    variables = {f"{VAR_PREFIX}{name}": value for name, value in facts.items()}
    address = ansible_address(host)
    if address:
        variables["ansible_host"] = address
    return variables


def build_inventory(hosts=None):
    hosts = inventory_hosts() if hosts is None else hosts
    groups = defaultdict(list)
    hostvars = {}
    for host in hosts:
        hostvars[host.hostname] = host_vars(host)
        for group in host_groups(host):
            groups[group].append(host.hostname)
    inventory = {"_meta": {"hostvars": hostvars}, "all": {"children": [*sorted(groups), "ungrouped"]}}
    inventory.update({group: {"hosts": members} for group, members in sorted(groups.items())})
    return inventory


def host_vars_by_name(hostname):
    """What `--host NAME` answers: the host's variables, or {} for a host not in the inventory."""
    host = inventory_hosts().filter(hostname=hostname).first()
    return host_vars(host) if host else {}
