"""The sync against libvirt's test driver, served by the lab's libvirtds (each lab host's
libvirtd is its own fake hypervisor): new, changed, gone, moved and unreachable, and a
query count that does not grow with the number of domains."""

import socket
import threading
import uuid

import libvirt
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hypervisors.models import Hypervisor, VirtualMachine
from hypervisors.services import sync
from inventory.models import Host, Site

pytestmark = pytest.mark.lab


def fake_domain_xml(name, domain_uuid, memory_mib=64, vcpus=1, devices=""):
    return (f"<domain type='test'><name>{name}</name><uuid>{domain_uuid}</uuid>"
            f"<memory unit='MiB'>{memory_mib}</memory><vcpu>{vcpus}</vcpu><os><type>hvm</type></os>"
            f"<devices>{devices}</devices></domain>")



class FakeHost:
    """One test-driver hypervisor, driven straight through libvirt (not the code under test)."""

    def __init__(self, conn):
        self.conn = conn
        self.uri = conn.getURI()

    def wipe(self):
        for dom in self.conn.listAllDomains(0):
            if dom.isActive():
                dom.destroy()
            if dom.isPersistent():
                dom.undefine()

    def define(self, name, memory_mib=64, vcpus=1, domain_uuid=None, running=False, devices=""):
        domain_uuid = domain_uuid or str(uuid.uuid4())
        dom = self.conn.defineXML(fake_domain_xml(name, domain_uuid, memory_mib, vcpus, devices))
        if running:
            dom.create()
        return domain_uuid

    def do(self, domain_uuid, *calls):
        """Call domain methods in order, e.g. do(uuid, "destroy", "undefine")."""
        dom = self.conn.lookupByUUIDString(domain_uuid)
        for call in calls:
            getattr(dom, call)()


@pytest.fixture(scope="session")
def test_driver_connections(lab):
    """One connection held open per test driver for the whole run: libvirtd resets the
    test driver to its default state as soon as nobody is connected to it."""
    hosts = lab.load()
    connections = {name: libvirt.open(hosts[name].test_uri) for name in ("rhine", "danube")}
    yield connections
    for conn in connections.values():
        # A lab host another test left unreachable can make close() wait forever: bound it.
        closer = threading.Thread(target=conn.close, daemon=True)
        closer.start()
        closer.join(timeout=5)


@pytest.fixture
def fakes(lab, test_driver_connections, db):
    """Two test-driver hypervisors (served by the lab's rhine and danube), emptied."""
    site = Site.objects.create(name="Fake DC", slug="fake")
    registered = {}
    for name, lab_name in (("fake-a", "rhine"), ("fake-b", "danube")):
        conn = test_driver_connections[lab_name]
        try:
            conn.listAllDomains(0)
        except libvirt.libvirtError:  # its libvirtd was restarted (another test power-cycled the host)
            conn = test_driver_connections[lab_name] = libvirt.open(lab.load()[lab_name].test_uri)
        fake = FakeHost(conn)
        fake.wipe()
        host = Host.objects.create(hostname=name, site=site, status="active", cpu_cores=4, memory_mib=2048)
        fake.hypervisor = Hypervisor.objects.create(host=host, uri=fake.uri)
        registered[name] = fake
    return registered


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_new_domains_are_recorded_with_their_facts(fakes):
    fake = fakes["fake-a"]
    devices = ("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/guests/io.qcow2'/>"
               "<target dev='vda' bus='virtio'/></disk>"
               "<interface type='network'><mac address='52:54:00:aa:bb:01'/><source network='default'/></interface>")
    io = fake.define("io", memory_mib=128, vcpus=2, running=True, devices=devices)
    europa = fake.define("europa")

    result = sync.sync_hypervisor(fake.hypervisor)

    assert (result["reachable"], result["new"], result["gone"]) == (True, 2, 0)
    vm = VirtualMachine.objects.get(uuid=io)
    assert (vm.name, vm.hypervisor, vm.state, vm.vcpus, vm.memory_mib, vm.persistent) == (
        "io", fake.hypervisor, "running", 2, 128, True)
    assert vm.disks == [{"target": "vda", "path": "/guests/io.qcow2", "format": "qcow2"}]
    assert vm.nics == [{"mac": "52:54:00:aa:bb:01", "type": "network", "network": "default"}]
    assert vm.last_seen is not None and not vm.is_stale
    assert VirtualMachine.objects.get(uuid=europa).state == "shutoff"
    hypervisor = Hypervisor.objects.get(pk=fake.hypervisor.pk)
    assert hypervisor.connection == "connected" and hypervisor.last_seen is not None
    assert hypervisor.cpus > 0 and hypervisor.memory_mib > 0 and hypervisor.libvirt_version


def test_changed_domains_are_updated(fakes):
    fake = fakes["fake-a"]
    io = fake.define("io", running=True)
    europa = fake.define("europa")
    callisto = fake.define("callisto", running=True)
    sync.sync_hypervisor(fake.hypervisor)
    before = {vm.name: vm.state_changed_at for vm in VirtualMachine.objects.all()}

    fake.do(io, "destroy")
    fake.define("io", memory_mib=256, vcpus=3, domain_uuid=io)  # a new definition while shut off
    fake.do(europa, "create")
    fake.do(callisto, "suspend")
    result = sync.sync_hypervisor(fake.hypervisor)

    assert result["updated"] == 3 and result["new"] == 0
    states = {vm.name: (vm.state, vm.vcpus, vm.memory_mib) for vm in VirtualMachine.objects.all()}
    assert states == {"io": ("shutoff", 3, 256), "europa": ("running", 1, 64), "callisto": ("paused", 1, 64)}
    after = {vm.name: vm.state_changed_at for vm in VirtualMachine.objects.all()}
    assert all(after[name] > before[name] for name in before)


def test_a_domain_libvirt_no_longer_has_is_kept_as_stale_not_deleted(fakes):
    fake = fakes["fake-a"]
    io = fake.define("io", running=True)
    fake.define("europa")
    sync.sync_hypervisor(fake.hypervisor)

    fake.do(io, "destroy", "undefine")
    first = sync.sync_hypervisor(fake.hypervisor)
    second = sync.sync_hypervisor(fake.hypervisor)

    vm = VirtualMachine.objects.get(uuid=io)
    assert vm.state == "gone" and vm.is_stale and vm.hypervisor == fake.hypervisor
    assert (first["gone"], second["gone"]) == (1, 0)
    assert VirtualMachine.objects.get(name="europa").state == "shutoff"

    fake.define("io", domain_uuid=io)  # back again
    sync.sync_hypervisor(fake.hypervisor)
    assert VirtualMachine.objects.get(uuid=io).state == "shutoff"


def test_a_domain_that_moved_keeps_its_row_and_follows_its_uuid(fakes):
    a, b = fakes["fake-a"], fakes["fake-b"]
    io = a.define("io", running=True)
    sync.sync_hypervisor(a.hypervisor)
    row = VirtualMachine.objects.get(uuid=io)
    row.ha_enabled, row.owner = True, "team-moons"  # our own fields survive the move
    row.save()

    a.do(io, "destroy", "undefine")
    b.define("io", domain_uuid=io, running=True)
    moved = sync.sync_hypervisor(b.hypervisor)
    source = sync.sync_hypervisor(a.hypervisor)

    assert moved["moved_here"] == 1 and moved["new"] == 0
    assert source["gone"] == 0  # it left; it is not gone
    vm = VirtualMachine.objects.get(uuid=io)
    assert (vm.pk, vm.hypervisor, vm.state, vm.ha_enabled, vm.owner) == (
        row.pk, b.hypervisor, "running", True, "team-moons")
    assert VirtualMachine.objects.count() == 1


@pytest.mark.django_db(transaction=True)  # the sweep runs in a thread of its own, on its own connection
def test_an_unreachable_hypervisor_marks_its_vms_unknown_and_does_not_hang(fakes):
    site = Site.objects.get(slug="fake")
    host = Host.objects.create(hostname="marvin", site=site, status="active")
    dead = Hypervisor.objects.create(host=host, uri=f"test+tcp://127.0.0.1:{closed_port()}/default")
    running = VirtualMachine.objects.create(uuid=uuid.uuid4(), name="deimos", hypervisor=dead, state="running")
    gone = VirtualMachine.objects.create(uuid=uuid.uuid4(), name="phobos", hypervisor=dead, state="gone")
    fakes["fake-a"].define("io", running=True)

    results = []

    def sweep_all():
        try:
            results.append(sync.sync_all())
        finally:
            connection.close()

    sweep = threading.Thread(target=sweep_all)
    sweep.start()
    sweep.join(timeout=60)

    assert not sweep.is_alive(), "the sync hung on an unreachable hypervisor"
    by_name = {r["hypervisor"]: r for r in results[0]["hypervisors"]}
    assert by_name["marvin"]["reachable"] is False and by_name["fake-a"]["reachable"] is True
    dead.refresh_from_db()
    assert dead.connection == "unreachable" and "does not answer" in dead.last_error
    assert VirtualMachine.objects.get(pk=running.pk).state == "unknown"
    assert VirtualMachine.objects.get(pk=gone.pk).state == "gone"  # gone stays gone
    assert VirtualMachine.objects.get(name="io").state == "running"


def test_sync_queries_do_not_grow_with_the_number_of_domains(fakes):
    fake = fakes["fake-a"]

    def count(callable_):
        with CaptureQueriesContext(connection) as queries:
            callable_()
        return len(queries)

    def rounds(size):
        fake.wipe()
        VirtualMachine.objects.all().delete()
        uuids = [fake.define(f"vm{n:03d}", running=True) for n in range(size)]
        new = count(lambda: sync.sync_hypervisor(fake.hypervisor))
        for domain_uuid in uuids:
            fake.do(domain_uuid, "destroy")
        changed = count(lambda: sync.sync_hypervisor(fake.hypervisor))
        unchanged = count(lambda: sync.sync_hypervisor(fake.hypervisor))
        assert VirtualMachine.objects.filter(state="shutoff").count() == size
        return new, changed, unchanged

    assert rounds(3) == rounds(40)


def test_a_stale_copy_on_a_hypervisor_that_came_back_is_removed_not_followed(fakes):
    """io ran on fake-a, was restarted on fake-b (HA), and fake-a came back with io's old
    definition, shut off: the record stays on fake-b and the stale definition goes."""
    a, b = fakes["fake-a"], fakes["fake-b"]
    io = a.define("io", running=True)
    sync.sync_hypervisor(a.hypervisor)
    a.do(io, "destroy")  # its host lost power; the definition stays on its disk
    b.define("io", domain_uuid=io, running=True)
    assert sync.sync_hypervisor(b.hypervisor)["moved_here"] == 1

    back = sync.sync_hypervisor(a.hypervisor)

    assert (back["stale_removed"], back["moved_here"], back["gone"]) == (1, 0, 0)
    assert VirtualMachine.objects.filter(uuid=io).values_list("hypervisor__host__hostname", "state").get() == (
        "fake-b", "running")
    with pytest.raises(libvirt.libvirtError):
        a.conn.lookupByUUIDString(io)
    assert b.conn.lookupByUUIDString(io).isActive()
    entry = a.hypervisor.host.journal.get()
    assert "Removed the stale definition of io from fake-a" in entry.text and "runs on fake-b" in entry.text
    assert sync.sync_hypervisor(b.hypervisor)["unchanged"] == 1  # and it stays put


def test_a_stale_copy_is_kept_when_the_other_hypervisor_does_not_confirm_the_vm(fakes):
    a, b = fakes["fake-a"], fakes["fake-b"]
    io = a.define("io")
    VirtualMachine.objects.create(uuid=io, name="io", hypervisor=b.hypervisor, state="running")  # b does not have it

    back = sync.sync_hypervisor(a.hypervisor)

    assert back["stale_removed"] == 0
    assert a.conn.lookupByUUIDString(io).isPersistent()  # nothing removed on a record's word
    assert not a.hypervisor.host.journal.exists()
