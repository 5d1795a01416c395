"""Workloads: what right-sizing and costing look at, whether an inventory Host or a
hypervisors VirtualMachine, as one plain value.

    workloads = load_workloads(host_ids=[1, 2], vm_ids=[7])   # four queries, whatever the number
    figures = measured_utilisation(workloads)                  # {workload.key: Utilisation}
"""

import math
from dataclasses import dataclass, field
from decimal import Decimal

from hypervisors.models import VirtualMachine
from inventory.models import Host

from ..models import UtilisationRecord

HOST, VM = "host", "vm"
GIB = 1024**3


@dataclass(frozen=True)
class Utilisation:
    """Measured use of a workload over `days` days, in percent (0-100) of what it has.

    The health checks will produce these; until then they come from
    UtilisationRecord rows (entered by hand) or are passed in directly."""

    p95_cpu_percent: Decimal
    p95_memory_percent: Decimal
    max_cpu_percent: Decimal
    days: int
    source: str = "given"

    def __post_init__(self):
        for name in ("p95_cpu_percent", "p95_memory_percent", "max_cpu_percent"):
            value = Decimal(str(getattr(self, name)))
            if not Decimal("0") <= value <= Decimal("100"):
                raise ValueError(f"{name} must be between 0 and 100, not {value}")
            object.__setattr__(self, name, value)
        if int(self.days) < 0:
            raise ValueError("days cannot be negative")


@dataclass(frozen=True)
class Workload:
    """A host or VM as sizing sees it. `disk_gb` is what it stores (EBS / RDS storage)."""

    kind: str  # "host" or "vm"
    id: int
    name: str
    vcpus: int
    memory_mib: int
    disk_gb: int = 0
    role_id: int | None = None
    role_slug: str = ""
    tags: frozenset = field(default_factory=frozenset)

    @property
    def key(self):
        return (self.kind, self.id)


def host_workload(id, hostname, cpu_cores, memory_mib, disks, role_id, role_slug, tags):
    """A host as a workload: its physical cores count as vCPUs (the conservative reading:
    one core, one vCPU), its disks' size_gb summed."""
    disk_gb = sum(_number(disk.get("size_gb")) for disk in disks or [] if isinstance(disk, dict))
    return Workload(kind=HOST, id=id, name=hostname, vcpus=cpu_cores, memory_mib=memory_mib,
                    disk_gb=math.ceil(disk_gb), role_id=role_id, role_slug=role_slug or "", tags=frozenset(tags))


def vm_workload(id, name, vcpus, memory_mib, disks, role_id, role_slug, tags):
    """A VM as a workload: its vCPUs and memory as libvirt reports them, its disks'
    capacity (size_bytes, when the sync could read it) in GiB."""
    disk_bytes = sum(_number(disk.get("size_bytes")) for disk in disks or [] if isinstance(disk, dict))
    return Workload(kind=VM, id=id, name=name, vcpus=vcpus, memory_mib=memory_mib, disk_gb=math.ceil(disk_bytes / GIB),
                    role_id=role_id, role_slug=role_slug or "", tags=frozenset(tags))


def from_host(host):
    """The workload of one Host instance."""
    return host_workload(host.pk, host.hostname, host.cpu_cores, host.memory_mib, host.disks, host.role_id,
                         host.role.slug if host.role_id else "", [tag.slug for tag in host.tags.all()])


def from_vm(vm):
    """The workload of one VirtualMachine instance."""
    return vm_workload(vm.pk, vm.name, vm.vcpus, vm.memory_mib, vm.disks, vm.role_id,
                       vm.role.slug if vm.role_id else "", [tag.slug for tag in vm.tags.all()])


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else 0


def _tags_by_owner(through, owner_column, ids):
    tags = {}
    for owner_id, slug in through.objects.filter(**{f"{owner_column}__in": ids}).values_list(owner_column, "tag__slug"):
        tags.setdefault(owner_id, []).append(slug)
    return tags


def load_workloads(host_ids=(), vm_ids=()):
    """Workloads of the given hosts and VMs, hosts first, each in name order, in four
    queries whatever their number (plain rows, no model instances: thousands load in a
    fraction of a second). A host that is the inventory record of a VM also selected
    is left out: the VM is what moves."""
    host_ids, vm_ids = list(host_ids), list(vm_ids)
    vms = list(VirtualMachine.objects.filter(pk__in=vm_ids).order_by("name").values_list(
        "id", "name", "vcpus", "memory_mib", "disks", "role_id", "role__slug", "inventory_host_id")) if vm_ids else []
    vm_hosts = {row[-1] for row in vms if row[-1]}
    hosts = list(Host.objects.filter(pk__in=host_ids).exclude(pk__in=vm_hosts).order_by("hostname").values_list(
        "id", "hostname", "cpu_cores", "memory_mib", "disks", "role_id", "role__slug")) if host_ids else []
    host_tags = _tags_by_owner(Host.tags.through, "host_id", [row[0] for row in hosts]) if hosts else {}
    vm_tags = _tags_by_owner(VirtualMachine.tags.through, "virtualmachine_id", [row[0] for row in vms]) if vms else {}
    return ([host_workload(*row, host_tags.get(row[0], ())) for row in hosts]
            + [vm_workload(*row[:-1], vm_tags.get(row[0], ())) for row in vms])


def measured_utilisation(workloads):
    """{workload.key: Utilisation} from the recorded figures, in at most two queries."""
    host_ids = [w.id for w in workloads if w.kind == HOST]
    vm_ids = [w.id for w in workloads if w.kind == VM]
    figures = {}
    columns = ("p95_cpu_percent", "p95_memory_percent", "max_cpu_percent", "days", "source")
    for kind, ids, column in ((HOST, host_ids, "host_id"), (VM, vm_ids, "vm_id")):
        if not ids:
            continue
        for row in UtilisationRecord.objects.filter(**{f"{column}__in": ids}).values(column, *columns):
            figures[(kind, row[column])] = Utilisation(**{name: row[name] for name in columns})
    return figures


def select_workloads(kinds=(HOST, VM), site=None, role=None, tag=None, host_status=None, host_ids=(), vm_ids=(),
                     limit=None):
    """Workloads picked by filter (site, role, tag: slugs; host_status for hosts) and/or
    by id, as the right-sizing page and the migration wizard pick them. VMs are in the
    site of their hypervisor; VMs gone from libvirt are left out. At most `limit` of
    them (hosts first). Returns (workloads, truncated)."""
    hosts = Host.objects.all() if HOST in kinds else Host.objects.none()
    vms = VirtualMachine.objects.exclude(state=VirtualMachine.State.GONE) if VM in kinds else VirtualMachine.objects.none()
    if host_ids or vm_ids:
        hosts, vms = hosts.filter(pk__in=list(host_ids)), vms.filter(pk__in=list(vm_ids))
    if site:
        hosts, vms = hosts.filter(site__slug=site), vms.filter(hypervisor__host__site__slug=site)
    if role:
        hosts, vms = hosts.filter(role__slug=role), vms.filter(role__slug=role)
    if tag:
        hosts, vms = hosts.filter(tags__slug=tag), vms.filter(tags__slug=tag)
    if host_status:
        hosts = hosts.filter(status=host_status)
    chosen_hosts = list(hosts.order_by("hostname").values_list("pk", flat=True).distinct())
    chosen_vms = list(vms.order_by("name").values_list("pk", flat=True).distinct())
    truncated = limit is not None and len(chosen_hosts) + len(chosen_vms) > limit
    if truncated:
        chosen_hosts = chosen_hosts[:limit]
        chosen_vms = chosen_vms[:max(0, limit - len(chosen_hosts))]
    return load_workloads(host_ids=chosen_hosts, vm_ids=chosen_vms), truncated
