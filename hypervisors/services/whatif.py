"""What if it died now? For a hypervisor, or every hypervisor of a rack at once: where
each HA VM would be restarted (the placement planner over the other enabled, active or
spare, reachable hypervisors of the site, as the HA restart does it), which VMs could not
be placed and why, and which non-HA VMs would simply stay down. Touches nothing.

The N+1 check asks it for each site's largest hypervisor (the one with the most HA memory
to restart, then vCPUs, then capacity): a site that cannot survive losing it is flagged.

Everything is computed over an Estate loaded in a fixed number of queries, so checking
every site costs the same queries as checking one.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count

from ..models import Hypervisor, VirtualMachine
from ..placement import PACK, Capacity, plan_placement
from .capacity import anti_affinity_groups, demand_of, hypervisor_usage
from .ha_restart import WAS_UP

CANDIDATE_STATUSES = ("active", "spare")


@dataclass
class Estate:
    """Hypervisors (with their usage), their anti-affinity groups and their HA VMs, by id."""

    usages: dict  # hypervisor id -> capacity.Usage (hypervisor.host.site loaded)
    groups: dict  # hypervisor id -> set of anti-affinity groups
    ha_vms: dict  # hypervisor id -> [VirtualMachine] (HA, was up)
    others: dict  # hypervisor id -> count of VMs that were up but are not HA

    def hypervisors(self, site_id=None):
        return [u.hypervisor for u in self.usages.values()
                if site_id is None or u.hypervisor.host.site_id == site_id]


def load_estate(hypervisors=None):
    """The Estate of `hypervisors` (a queryset; all of them by default): four queries."""
    queryset = hypervisors if hypervisors is not None else Hypervisor.objects.all()
    usages = {u.hypervisor.pk: u for u in hypervisor_usage(queryset.select_related("host__site"))}
    ids = list(usages)
    ha_vms = defaultdict(list)
    ha = VirtualMachine.objects.filter(WAS_UP, hypervisor_id__in=ids, ha_enabled=True).order_by("name")
    for vm in ha.only("name", "hypervisor_id", "vcpus", "memory_mib", "anti_affinity_group", "state"):
        ha_vms[vm.hypervisor_id].append(vm)
    others = dict(VirtualMachine.objects.filter(WAS_UP, hypervisor_id__in=ids, ha_enabled=False)
                  .values_list("hypervisor_id").annotate(n=Count("pk")).order_by())
    return Estate(usages=usages, groups=anti_affinity_groups(ids), ha_vms=dict(ha_vms), others=others)


def site_estate(site_id):
    return load_estate(Hypervisor.objects.filter(host__site_id=site_id))


def _is_candidate(hypervisor, dead_ids):
    return (hypervisor.pk not in dead_ids and hypervisor.enabled and hypervisor.host.status in CANDIDATE_STATUSES
            and hypervisor.connection != Hypervisor.Connection.UNREACHABLE)


def _capacity(usage, groups):
    hv = usage.hypervisor
    return Capacity(key=hv.pk, vcpus=hv.vcpu_capacity, memory_mib=hv.memory_capacity_mib,
                    used_vcpus=usage.vcpus_used, used_memory_mib=usage.memory_used_mib,
                    groups=set(groups.get(hv.pk, set())), spare=hv.host.status == "spare")


@dataclass
class WhatIf:
    dead: list  # the Hypervisors that die
    moves: list = field(default_factory=list)  # {vm, vm_id, vcpus, memory_mib, source, target, target_id}
    unplaced: list = field(default_factory=list)  # {vm, vm_id, vcpus, memory_mib, source, reason}
    stay_down: int = 0  # VMs that were up but are not HA: they stay down
    candidates: list = field(default_factory=list)  # {id, name, spare, free before/after}

    @property
    def survives(self):
        return not self.unplaced

    @property
    def names(self):
        return ", ".join(hv.name for hv in self.dead)

    def as_dict(self):
        return {"dead": [{"id": hv.pk, "name": hv.name} for hv in self.dead], "survives": self.survives,
                "moves": self.moves, "unplaced": self.unplaced, "stay_down": self.stay_down,
                "candidates": self.candidates}


def what_if(estate, dead_ids, policy=PACK):
    """What happens if the hypervisors `dead_ids` (of one site) die now, as a WhatIf."""
    dead_ids = set(dead_ids)
    dead = sorted((estate.usages[i].hypervisor for i in dead_ids if i in estate.usages), key=lambda hv: hv.name)
    result = WhatIf(dead=dead, stay_down=sum(estate.others.get(hv.pk, 0) for hv in dead))
    if not dead:
        return result
    sites = {hv.host.site_id for hv in dead}
    alive = [u for u in estate.usages.values()
             if u.hypervisor.host.site_id in sites and _is_candidate(u.hypervisor, dead_ids)]
    capacities = [_capacity(u, estate.groups) for u in alive]
    names = {hv.pk: hv.name for hv in estate.hypervisors()}
    vms, unshared = [], {}
    for hv in dead:
        for vm in estate.ha_vms.get(hv.pk, []):
            vms.append(vm)
            if not hv.shared_storage:
                unshared[vm.pk] = f"its disks are not on shared storage ({hv.name} has none)"
    plan = plan_placement([demand_of(vm) for vm in vms if vm.pk not in unshared], capacities, policy)
    taken = defaultdict(lambda: [0, 0])
    for vm in vms:
        row = {"vm": vm.name, "vm_id": vm.pk, "vcpus": vm.vcpus, "memory_mib": vm.memory_mib,
               "group": vm.anti_affinity_group, "source": names[vm.hypervisor_id]}
        target = plan.assignments.get(vm.pk)
        if target is not None:
            result.moves.append({**row, "target": names[target], "target_id": target})
            taken[target][0] += vm.vcpus
            taken[target][1] += vm.memory_mib
        else:
            result.unplaced.append({**row, "reason": unshared.get(vm.pk) or plan.unplaced[vm.pk]})
    result.candidates = [
        {"id": c.key, "name": names[c.key], "spare": c.spare, "vcpus": c.vcpus, "memory_mib": c.memory_mib,
         "free_vcpus": c.free_vcpus, "free_memory_mib": c.free_memory_mib,
         "free_vcpus_after": c.free_vcpus - taken[c.key][0],
         "free_memory_mib_after": c.free_memory_mib - taken[c.key][1],
         "gets": sum(1 for m in result.moves if m["target_id"] == c.key)}
        for c in sorted(capacities, key=lambda c: names[c.key])
    ]
    return result


def hypervisor_what_if(hypervisor, policy=PACK):
    return what_if(site_estate(hypervisor.host.site_id), {hypervisor.pk}, policy)


def rack_hypervisors(rack):
    return Hypervisor.objects.filter(host__rack=rack)


def rack_what_if(rack, policy=PACK):
    """Every hypervisor of the rack dies at once (power or top-of-rack switch)."""
    estate = site_estate(rack.site_id)
    return what_if(estate, [hv.pk for hv in estate.hypervisors() if hv.host.rack_id == rack.pk], policy)


def ha_load(estate, hypervisor):
    vms = estate.ha_vms.get(hypervisor.pk, [])
    return (sum(vm.memory_mib for vm in vms), sum(vm.vcpus for vm in vms), hypervisor.memory_capacity_mib,
            hypervisor.name)


@dataclass
class SiteCheck:
    site: object
    hypervisors: int
    largest: object = None  # the Hypervisor whose loss is checked
    result: WhatIf = None

    @property
    def survives(self):
        return self.result is None or self.result.survives


def n_plus_one(estate=None):
    """For each site with hypervisors: can it lose its largest hypervisor? [SiteCheck],
    sites that cannot first. Hypervisors that are not in service (planned, failed,
    decommissioned, disabled) cannot die "now" and are not checked; they do not count as
    candidates either."""
    estate = estate if estate is not None else load_estate()
    by_site = defaultdict(list)
    for hv in estate.hypervisors():
        by_site[hv.host.site_id].append(hv)
    checks = []
    for hypervisors in by_site.values():
        in_service = [hv for hv in hypervisors if hv.enabled and hv.host.status in ("active", "maintenance")]
        check = SiteCheck(site=hypervisors[0].host.site, hypervisors=len(hypervisors))
        if in_service:
            check.largest = max(in_service, key=lambda hv: ha_load(estate, hv))
            check.result = what_if(estate, {check.largest.pk})
        checks.append(check)
    return sorted(checks, key=lambda c: (c.survives, c.site.name))


def sites_at_risk(checks):
    return [check for check in checks if not check.survives]

