"""Allocated against physical capacity, per hypervisor and per site."""

from dataclasses import dataclass

from django.db.models import Count, Q, Sum

from ..models import Hypervisor, VirtualMachine
from ..placement import Capacity, Demand

ALLOCATED = ~Q(vms__state=VirtualMachine.State.GONE)


@dataclass
class Usage:
    hypervisor: Hypervisor
    vcpus_used: int
    memory_used_mib: int
    vm_count: int

    @property
    def vcpu_percent(self):
        cap = self.hypervisor.vcpu_capacity
        return round(100 * self.vcpus_used / cap) if cap else 0

    @property
    def memory_percent(self):
        cap = self.hypervisor.memory_capacity_mib
        return round(100 * self.memory_used_mib / cap) if cap else 0


def with_usage(queryset):
    """The hypervisors annotated with what their VMs take: vcpus_used, memory_used, vm_count
    (for lists that paginate a queryset, e.g. the API)."""
    return queryset.select_related("host", "host__site").annotate(
        vcpus_used=Sum("vms__vcpus", filter=ALLOCATED, default=0),
        memory_used=Sum("vms__memory_mib", filter=ALLOCATED, default=0),
        vm_count=Count("vms", filter=ALLOCATED),
    )


def usage_of(hypervisor):
    """The Usage of a hypervisor annotated by with_usage()."""
    return Usage(hypervisor, hypervisor.vcpus_used, hypervisor.memory_used, hypervisor.vm_count)


def hypervisor_usage(queryset=None):
    """Usage of each hypervisor in one query."""
    queryset = queryset if queryset is not None else Hypervisor.objects.all()
    return [usage_of(hv) for hv in with_usage(queryset)]


def site_usage():
    """Totals per site in one query: {site name: {vcpus, vcpus_used, memory_mib, memory_used_mib,
    hypervisors, cpus, physical_memory_mib}}; vcpus and memory_mib are the capacity under the
    overcommit ratios, cpus and physical_memory_mib what the machines have."""
    totals = {}
    for usage in hypervisor_usage():
        site = usage.hypervisor.host.site.name
        entry = totals.setdefault(site, {"vcpus": 0, "vcpus_used": 0, "memory_mib": 0, "memory_used_mib": 0,
                                         "hypervisors": 0, "cpus": 0, "physical_memory_mib": 0})
        entry["cpus"] += usage.hypervisor.physical_cpus
        entry["physical_memory_mib"] += usage.hypervisor.physical_memory_mib
        entry["vcpus"] += usage.hypervisor.vcpu_capacity
        entry["vcpus_used"] += usage.vcpus_used
        entry["memory_mib"] += usage.hypervisor.memory_capacity_mib
        entry["memory_used_mib"] += usage.memory_used_mib
        entry["hypervisors"] += 1
    return totals


def candidates_for(source: Hypervisor, exclude=()):
    """Hypervisors that may take VMs from `source`: enabled, active or spare, reachable,
    at the same site, not the source."""
    queryset = (
        Hypervisor.objects.filter(enabled=True, host__status__in=["active", "spare"], host__site=source.host.site_id)
        .exclude(pk=source.pk)
        .exclude(pk__in=list(exclude))
        .exclude(connection=Hypervisor.Connection.UNREACHABLE)
    )
    return capacities(queryset)


def capacities(queryset):
    """The hypervisors of `queryset` as the placement planner sees them (free room and
    anti-affinity groups already there), in two queries."""
    usages = hypervisor_usage(queryset)
    groups = anti_affinity_groups([u.hypervisor.pk for u in usages])
    return [
        Capacity(
            key=u.hypervisor.pk, vcpus=u.hypervisor.vcpu_capacity, memory_mib=u.hypervisor.memory_capacity_mib,
            used_vcpus=u.vcpus_used, used_memory_mib=u.memory_used_mib, groups=groups.get(u.hypervisor.pk, set()),
            spare=u.hypervisor.host.status == "spare",
        )
        for u in usages
    ]


def anti_affinity_groups(hypervisor_ids):
    """{hypervisor id: the anti-affinity groups of the VMs defined on it}, in one query."""
    groups = {}
    rows = (
        VirtualMachine.objects.filter(hypervisor_id__in=hypervisor_ids)
        .exclude(anti_affinity_group="")
        .exclude(state=VirtualMachine.State.GONE)
        .values_list("hypervisor_id", "anti_affinity_group")
    )
    for hypervisor_id, group in rows:
        groups.setdefault(hypervisor_id, set()).add(group)
    return groups


def demand_of(vm: VirtualMachine):
    return Demand(key=vm.pk, vcpus=vm.vcpus, memory_mib=vm.memory_mib, group=vm.anti_affinity_group,
                  source=vm.hypervisor_id)
