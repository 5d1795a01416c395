"""libvirt lifecycle events keep VM states current without any sync call: guests are
started and stopped with libvirt directly, and the database follows. The listener runs
in a thread (or as the real management command) against the QEMU lab."""

import os
import subprocess
import sys
import threading

import libvirt
import pytest

from core.jobs import create_job
from core.models import Job
from hypervisors.models import Hypervisor, VirtualMachine
from hypervisors.services.events import RESYNC, EventListener, classify, record_event
from inventory.models import Host
from tests.conftest import BASE_DIR, _database_url_for_worker, wait_for
from tests.hypervisors.conftest import start_guest


def in_the_lab(test):
    """A test against the QEMU lab; the listener thread needs committed rows to see."""
    return pytest.mark.lab(pytest.mark.django_db(transaction=True)(test))


@pytest.fixture
def listen():
    """Start an event listener in a thread (quick to pick up hypervisors and to reconnect);
    it is stopped after the test."""
    running = []

    def start():
        stop = threading.Event()
        events = EventListener(refresh_interval=0.5, retry_interval=0.5, poll_interval=0.1)
        thread = threading.Thread(target=events.run, args=(stop,), name="events-under-test")
        thread.start()
        running.append((stop, thread))
        return events

    yield start
    for stop, thread in running:
        stop.set()
        thread.join(timeout=60)
        assert not thread.is_alive(), "the listener did not stop"


def vm_state(name):
    return VirtualMachine.objects.filter(name=name).values_list("hypervisor__host__hostname", "state").first()


def domain(hypervisor, domain_uuid):
    conn = libvirt.open(hypervisor.uri)
    return conn, conn.lookupByUUIDString(domain_uuid)


@in_the_lab
def test_state_changes_reach_the_database_without_a_sync(lab_hypervisors, listen):
    rhine = lab_hypervisors["rhine"]
    listen()
    assert wait_for(lambda: Hypervisor.objects.filter(connection="connected").count() == 4)

    guest = start_guest(rhine, "titan")  # defined, then started: a new VM appears
    assert wait_for(lambda: vm_state("titan") == ("rhine", "running")), vm_state("titan")
    assert str(VirtualMachine.objects.get(name="titan").uuid) == guest

    conn, dom = domain(rhine, guest)
    dom.suspend()
    assert wait_for(lambda: vm_state("titan") == ("rhine", "paused")), vm_state("titan")
    dom.resume()
    assert wait_for(lambda: vm_state("titan") == ("rhine", "running")), vm_state("titan")
    dom.destroy()
    assert wait_for(lambda: vm_state("titan") == ("rhine", "shutoff")), vm_state("titan")
    dom.undefine()
    assert wait_for(lambda: vm_state("titan") == ("rhine", "gone")), vm_state("titan")
    conn.close()


@in_the_lab
def test_a_hypervisor_added_later_is_picked_up(lab_hypervisors, listen):
    thames = lab_hypervisors["thames"]
    Hypervisor.objects.filter(pk=thames.pk).update(enabled=False)
    listener = listen()
    assert wait_for(lambda: Hypervisor.objects.filter(connection="connected").count() == 3)
    assert thames.pk not in listener.watches

    Hypervisor.objects.filter(pk=thames.pk).update(enabled=True)
    assert wait_for(lambda: Hypervisor.objects.get(pk=thames.pk).connection == "connected")
    start_guest(thames, "rhea")
    assert wait_for(lambda: vm_state("rhea") == ("thames", "running")), vm_state("rhea")


@in_the_lab
def test_a_connection_that_dies_is_reopened(lab, lab_hypervisors, listen):
    volga = lab_hypervisors["volga"]
    listen()
    assert wait_for(lambda: Hypervisor.objects.get(pk=volga.pk).connection == "connected")
    start_guest(volga, "mimas")
    assert wait_for(lambda: vm_state("mimas") == ("volga", "running"))

    lab.power_off("volga")  # the host dies with its guest
    try:
        assert wait_for(lambda: vm_state("mimas") == ("volga", "unknown")), vm_state("mimas")
        assert Hypervisor.objects.get(pk=volga.pk).connection == "unreachable"
    finally:
        lab.power_on("volga")  # back, with its persistent definitions, guests off
    assert wait_for(lambda: vm_state("mimas") == ("volga", "shutoff"), timeout=60), vm_state("mimas")
    start_guest(volga, "enceladus")
    assert wait_for(lambda: vm_state("enceladus") == ("volga", "running")), vm_state("enceladus")


@in_the_lab
def test_the_management_command_listens_until_stopped(lab_hypervisors):
    rhine = lab_hypervisors["rhine"]
    env = dict(os.environ, DATABASE_URL=_database_url_for_worker())
    command = subprocess.Popen(
        [sys.executable, "manage.py", "hypervisor_events", "--refresh", "1", "--retry", "1"],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(command.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        assert wait_for(lambda: sum("events: listening to" in line for line in lines) == 4, timeout=90), lines
        start_guest(rhine, "phoebe")
        assert wait_for(lambda: vm_state("phoebe") == ("rhine", "running")), lines
    finally:
        command.terminate()
        command.wait(timeout=60)
        reader.join(timeout=10)
    assert command.returncode == 0, lines
    assert "events: stopped" in "".join(lines)


@pytest.mark.parametrize(
    "event, detail, meaning",
    [
        (libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED, "running"),
        (libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_MIGRATED, None),
        (libvirt.VIR_DOMAIN_EVENT_RESUMED, libvirt.VIR_DOMAIN_EVENT_RESUMED_MIGRATED, "running"),
        (libvirt.VIR_DOMAIN_EVENT_SUSPENDED, libvirt.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED, "paused"),
        (libvirt.VIR_DOMAIN_EVENT_SUSPENDED, libvirt.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED, None),
        (libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED, "shutoff"),
        (libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_MIGRATED, None),
        (libvirt.VIR_DOMAIN_EVENT_CRASHED, 0, "crashed"),
        (libvirt.VIR_DOMAIN_EVENT_DEFINED, libvirt.VIR_DOMAIN_EVENT_DEFINED_ADDED, RESYNC),
        (libvirt.VIR_DOMAIN_EVENT_UNDEFINED, 0, RESYNC),
    ],
)
def test_what_each_event_means(event, detail, meaning):
    assert classify(event, detail) == meaning


def test_a_stop_on_a_host_the_vm_has_left_is_ignored(db, site):
    rhine, danube = (
        Hypervisor.objects.create(host=Host.objects.create(hostname=name, site=site, status="active"),
                                  uri=f"qemu+tcp://{name}.example/system")
        for name in ("rhine", "danube")
    )
    vm = VirtualMachine.objects.create(uuid="0b7d3c1e-7f0a-4c55-9a39-0b8c6e1f2a11", name="dione",
                                       hypervisor=danube, state="running")
    stopped = (libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED)

    assert record_event(rhine.pk, str(vm.uuid), *stopped) == "ignored"
    assert vm_state("dione") == ("danube", "running")
    assert record_event(danube.pk, str(vm.uuid), *stopped) == "applied"
    assert vm_state("dione") == ("danube", "shutoff")
    started = (libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED)
    assert record_event(rhine.pk, str(vm.uuid), *started) == "applied"  # running there: it is there
    assert vm_state("dione") == ("rhine", "running")
    assert record_event(rhine.pk, "5f1d2c3b-0000-4000-8000-000000000001", *started) == RESYNC


def test_events_about_a_vm_a_job_is_changing_are_left_to_the_job(db, site):
    host = Host.objects.create(hostname="rhine", site=site, status="active")
    rhine = Hypervisor.objects.create(host=host, uri="qemu+tcp://rhine.example/system")
    job = create_job("hypervisors.live_migrate", "Migrate dione")
    Job.objects.filter(pk=job.pk).update(state=Job.State.RUNNING)
    vm = VirtualMachine.objects.create(uuid="0b7d3c1e-7f0a-4c55-9a39-0b8c6e1f2a12", name="dione",
                                       hypervisor=rhine, state="running", busy_job=job)
    paused = (libvirt.VIR_DOMAIN_EVENT_SUSPENDED, libvirt.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED)

    assert record_event(rhine.pk, str(vm.uuid), *paused) == "ignored"
    Job.objects.filter(pk=job.pk).update(state=Job.State.SUCCEEDED)
    assert record_event(rhine.pk, str(vm.uuid), *paused) == "applied"
    assert vm_state("dione") == ("rhine", "paused")
