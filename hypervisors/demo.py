"""The demo's virtual estate on the lab: the lab's hypervisors in the inventory and a
few guests, so the console has something real to show and migrate.

The story: after "Marvin is dead", the team virtualises. The hypervisors hv1-hv3 the
inventory demo lists as planned arrive (they are the lab's), hv4 stands by as a spare,
and the first VMs are app, web and database servers named from the role schemes. Two of
the physical servers run in the lab too: luna (app) serving the shop from the database on
superman, so the console checks and fences real servers next to the hypervisors."""

from decimal import Decimal

from django.db import transaction

from inventory.models import Host, HostStatus, Role, Site
from inventory.services import change_status

from .drivers import libvirt_driver as driver
from .models import Hypervisor, VirtualMachine
from .services.actions import domain_xml
from .services.sync import sync_all

# name -> status once it runs in the lab
LAB_HYPERVISORS = {"hv1": "active", "hv2": "active", "hv3": "active", "hv4": "spare"}
# guest name, role slug, hypervisor, memory MiB, HA, anti-affinity group
DEMO_GUESTS = [
    ("titan", "app", "hv1", 96, True, "app-cluster"),
    ("europa", "app", "hv2", 96, True, "app-cluster"),
    ("apollo", "web", "hv1", 64, True, ""),
    ("robin", "db", "hv3", 128, False, ""),
]
# a physical lab host's service -> its inventory role, should the inventory demo not list it
PHYSICAL_ROLES = {"database": "db", "app": "app"}


def load_lab_demo(lab_hosts, log=print, shared_storage_path=""):
    """Register the running lab in the inventory and boot the demo guests (idempotent)."""
    site = Site.objects.get(slug="ams1")
    role, _ = Role.objects.get_or_create(slug="hypervisor", defaults={"name": "Hypervisor"})
    hypervisors = {}
    with transaction.atomic():
        _register_physical_hosts(lab_hosts, site, log)
        for name, lab_host in lab_hosts.items():
            if lab_host.kind != "hypervisor":
                continue
            status = LAB_HYPERVISORS.get(name, HostStatus.ACTIVE)
            host, created = Host.objects.get_or_create(
                hostname=name,
                defaults={"site": site, "role": role, "status": HostStatus.PLANNED, "vendor": "Supermicro",
                          "model": "lab: libvirtd + QEMU/TCG", "cpu_cores": 2, "memory_mib": 8192,
                          "owner": "virtualisation", "notes": "A lab hypervisor on this machine."},
            )
            if host.status == HostStatus.PLANNED:
                change_status(host, status, reason="installed as a lab hypervisor")
                log(f"demo: hypervisor {name} is now {status}")
            hypervisor, _ = Hypervisor.objects.update_or_create(
                host=host, defaults={"uri": lab_host.uri, "shared_storage": True, "shared_storage_path": shared_storage_path,
                                     "cpu_overcommit": Decimal("4.0"), "memory_overcommit": Decimal("1.5")},
            )
            hypervisors[name] = hypervisor
    for name, role_slug, where, memory, ha, group in DEMO_GUESTS:
        if where not in hypervisors or VirtualMachine.objects.filter(name=name).exclude(state="gone").exists():
            continue
        conn = driver.connect(hypervisors[where].uri)
        dom = conn.defineXML(domain_xml(name, 1, memory))
        dom.create()
        VirtualMachine.objects.update_or_create(
            uuid=dom.UUIDString(),
            defaults={"name": name, "hypervisor": hypervisors[where], "ha_enabled": ha, "anti_affinity_group": group,
                      "role": Role.objects.filter(slug=role_slug).first(), "memory_mib": memory},
        )
        log(f"demo: guest {name} started on {where}")
    sync_all()
    return hypervisors



def _register_physical_hosts(lab_hosts, site, log):
    """The physical servers the lab runs (luna, superman: the inventory demo lists them),
    managed at their lab address from now on. Their power switch is the lab's: the BMC
    address the inventory demo made up for them is dropped, so no health check probes it."""
    for name, lab_host in lab_hosts.items():
        if lab_host.kind != "physical":
            continue
        host, _ = Host.objects.get_or_create(
            hostname=name,
            defaults={"site": site, "role": Role.objects.filter(slug=PHYSICAL_ROLES.get(lab_host.service)).first(),
                      "status": HostStatus.ACTIVE, "model": "lab: a physical host in namespaces",
                      "notes": "A physical lab host on this machine."},
        )
        if host.mgmt_address != lab_host.address or host.bmc_address:
            host.mgmt_address, host.bmc_address = lab_host.address, ""
            host.save(update_fields=["mgmt_address", "bmc_address", "updated_at"])
            log(f"demo: {name} is managed at its lab address {lab_host.address}")
