"""The real lab for integration tests: libvirtd + QEMU hypervisors of this test run's own
(own state directory and ports, so a running `make run` lab is never touched)."""

import os
import uuid
import zlib
from pathlib import Path

import libvirt
import pytest

from hypervisors.drivers import libvirt_driver as driver
from hypervisors.lab import Lab
from hypervisors.models import Hypervisor
from hypervisors.services.actions import domain_xml
from inventory.models import Host, Role, Site

LAB_NAMES = ("rhine", "danube", "volga", "thames")


def _worker_index():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:]) if worker[2:].isdigit() else 0


def _net_index(var_dir):
    """A lab network (198.18.N.0/24) per test run directory and xdist worker, so parallel
    runs never meet; 250 and up belong to the demo and the benchmarks."""
    return 1 + 2 * (zlib.crc32(str(var_dir.resolve()).encode()) % 120) + _worker_index() % 2


@pytest.fixture(scope="session")
def lab():
    var_dir = Path(os.environ.get("OPSCONSOLE_VAR_DIR", "var"))
    lab = Lab(root=var_dir / f"test-lab-{_worker_index()}", net_index=_net_index(var_dir), names=LAB_NAMES)
    lab.up(log=lambda line: None)
    yield lab
    driver.forget_all()  # closed while the hosts answer: a connection to a deleted namespace hangs at exit
    lab.down(log=lambda line: None)


@pytest.fixture
def lab_hypervisors(lab, db):
    """The lab's hypervisors registered in the inventory (rhine, danube, volga active; thames spare),
    with no guests left over from another test."""
    site = Site.objects.create(name="Lab", slug="lab")
    role = Role.objects.create(name="Hypervisor", slug="hypervisor")
    hosts = lab.load()
    registered = {}
    for name in LAB_NAMES:
        conn = libvirt.open(hosts[name].uri)
        for dom in conn.listAllDomains(0):
            if dom.isActive():
                dom.destroy()
            if dom.isPersistent():
                dom.undefine()
        conn.close()
        host = Host.objects.create(hostname=name, site=site, role=role, cpu_cores=8, memory_mib=4096,
                                   status="spare" if name == "thames" else "active")
        registered[name] = Hypervisor.objects.create(host=host, uri=hosts[name].uri, shared_storage=True)
    return registered


def start_guest(hypervisor, name, memory_mib=64, vcpus=1):
    """Boot a small TCG guest straight through libvirt (not through the code under test)."""
    conn = libvirt.open(hypervisor.uri)
    dom = conn.defineXML(domain_xml(name, vcpus, memory_mib, domain_uuid=uuid.uuid4()))
    dom.create()
    uuid_string = dom.UUIDString()
    conn.close()
    return uuid_string


def where_is(lab_hypervisors, domain_uuid):
    """Ask libvirt itself which hypervisors run and define the domain."""
    running, defined = [], []
    for name, hypervisor in lab_hypervisors.items():
        conn = libvirt.open(hypervisor.uri)
        try:
            dom = conn.lookupByUUIDString(domain_uuid)
        except libvirt.libvirtError:
            dom = None
        if dom is not None:
            defined.append(name)
            if dom.isActive():
                running.append(name)
        conn.close()
    return running, defined
