"""An estate for migration tests: the seed story's app, database and web servers, a
hypervisor with VMs, and the embedded cloud's fixtures (moto server) borrowed from
tests/cloud/conftest.py."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from cloud.models import OnPremCostModel
from health.models import CheckAggregate
from hypervisors.models import Hypervisor, VirtualMachine
from inventory.models import Host, Role, Site, Tag
from tests.cloud.conftest import few_retries, own_var_dir  # noqa: F401  the cloud tests' settings, here too

GIB = 1024


@pytest.fixture(autouse=True)
def images_in_tmp_path(settings, tmp_path):
    """The tests' exported disk images live in tmp_path: an admin declared it an image root."""
    settings.OPSCONSOLE_IMAGE_ROOTS = [str(tmp_path)]


def work(run):
    """Execute the run's current job in this process, as the worker would; the run after it."""
    from migrations_tool import tasks

    run.refresh_from_db()
    tasks.run_job(run.job_id)
    run.refresh_from_db()
    return run


@pytest.fixture
def estate(db):
    """luna (app) talks to batman (db, prod); odin (web); hv1 is a hypervisor with two VMs:
    vm-app (a small guest) and vm-huge (more memory than any instance type has)."""
    site = Site.objects.create(name="Amsterdam DC1", slug="ams1")
    roles = {slug: Role.objects.create(name=name, slug=slug) for slug, name in
             (("app", "App server"), ("db", "Database server"), ("web", "Web server"), ("hypervisor", "Hypervisor"))}
    prod = Tag.objects.create(name="prod", slug="prod")
    hosts = {}
    for name, role, cores, memory in (("luna", "app", 8, 32 * GIB), ("batman", "db", 8, 64 * GIB),
                                      ("odin", "web", 4, 8 * GIB), ("hv1", "hypervisor", 32, 256 * GIB),
                                      ("hv2", "hypervisor", 32, 256 * GIB)):
        hosts[name] = Host.objects.create(hostname=name, site=site, role=roles[role], status="active",
                                          cpu_cores=cores, memory_mib=memory, disks=[{"name": "sda", "size_gb": 200}])
    hosts["batman"].tags.add(prod)
    hv1 = Hypervisor.objects.create(host=hosts["hv1"], uri="test+tcp://127.0.0.1:9/hv1")
    hv2 = Hypervisor.objects.create(host=hosts["hv2"], uri="test+tcp://127.0.0.1:9/hv2")
    vms = {
        "vm-app": VirtualMachine.objects.create(uuid=uuid.uuid4(), name="vm-app", hypervisor=hv1, state="running",
                                                vcpus=2, memory_mib=4 * GIB, role=roles["app"],
                                                disks=[{"path": "/images/vm-app.raw", "size_bytes": 20 * 1024**3}]),
        "vm-huge": VirtualMachine.objects.create(uuid=uuid.uuid4(), name="vm-huge", hypervisor=hv1, state="running",
                                                 vcpus=4, memory_mib=64 * 1024 * GIB, role=roles["app"]),
    }
    for kind in ("host", "vm"):
        OnPremCostModel.objects.create(name=f"Default {kind}", kind=kind, hardware_amortisation=100, power=30,
                                       rack=20, licences=50)
    return {"site": site, "roles": roles, "hosts": hosts, "vms": vms, "hypervisors": {"hv1": hv1, "hv2": hv2}}


def record_metrics(host, load5, mem_used_pct, days=20, load1=None):
    """Hourly aggregates of the health metrics check, one every 6 hours over `days` days."""
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    CheckAggregate.objects.bulk_create([
        CheckAggregate(host=host, check_type="metrics", hour=now - timedelta(hours=hours), runs=60,
                       value={"load1": load1 if load1 is not None else load5, "load5": load5,
                              "mem_used_pct": mem_used_pct})
        for hours in range(0, days * 24 + 1, 6)
    ])
