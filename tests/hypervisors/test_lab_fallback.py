"""Where the QEMU lab cannot run (not root, packages missing) the lab says so in one line
and falls back to libvirt's test driver served by one real libvirtd, only when a libvirtd
is there to serve it; otherwise it fails, saying why. Never pretends."""

import functools
import shutil
import tempfile
from io import StringIO
from pathlib import Path

import libvirt
import pytest
from django.core.management import CommandError, call_command

from hypervisors import labconfig
from hypervisors.drivers import libvirt_driver as driver
from hypervisors.lab import LabError, port_open
from hypervisors.models import Hypervisor, VirtualMachine
from inventory.models import Site

NOT_ROOT = "the lab needs root (it creates namespaces and runs libvirtd); run it as root"


def not_root():
    raise LabError(NOT_ROOT)


def no_packages():
    raise LabError("the lab needs qemu-system-x86_64: install qemu-system-x86 (make lab does)")


# --- the decision ------------------------------------------------------------------------


def test_the_qemu_lab_is_chosen_when_its_prerequisites_hold():
    assert labconfig.choose_lab(prerequisites=lambda: None) == labconfig.LabChoice(labconfig.QEMU, "")


@pytest.mark.parametrize("probe, why", [(not_root, NOT_ROOT), (no_packages, "needs qemu-system-x86_64")])
def test_the_test_driver_is_the_fallback_when_libvirtd_is_installed(probe, why):
    assert shutil.which("libvirtd"), "this machine has libvirtd (the lab tests need it)"
    choice = labconfig.choose_lab(prerequisites=probe)
    assert choice.kind == labconfig.TEST_DRIVER and why in choice.why


def test_no_fallback_without_libvirtd(tmp_path):
    """A PATH without libvirtd (an empty directory): nothing can serve the test driver."""
    without_libvirtd = functools.partial(shutil.which, path=str(tmp_path))
    choice = labconfig.choose_lab(prerequisites=not_root, which=without_libvirtd)
    assert choice.kind == labconfig.NONE
    assert choice.why == f"{NOT_ROOT}; libvirtd is not installed either, so there is no test-driver fallback"


def test_the_real_probe_agrees_with_this_machine():
    """Run as root with the lab packages installed (as the lab tests need), the QEMU lab is chosen."""
    assert labconfig.choose_lab().kind == labconfig.QEMU


# --- the fallback, for real ----------------------------------------------------------------


@pytest.fixture
def var_dir(settings):
    # Short: libvirtd's unix socket path must fit in 108 bytes.
    directory = Path(tempfile.mkdtemp(prefix="tdl", dir="/tmp"))
    settings.VAR_DIR = directory
    yield directory
    driver.forget_all()  # the demo's cached connections, before their libvirtd goes
    labconfig.configured_fallback().down(log=lambda line: None)
    shutil.rmtree(directory, ignore_errors=True)


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.lab
def test_lab_up_falls_back_saying_why_and_serves_a_shared_test_driver(var_dir, monkeypatch):
    monkeypatch.setattr(labconfig, "check_prerequisites", not_root)

    output = run("lab", "up")

    first = output.splitlines()[0]
    assert first == (f"lab: no QEMU lab here ({NOT_ROOT}); falling back to libvirt's test driver served by one "
                     "libvirtd")
    uri = labconfig.configured_fallback().load()["hv1"].uri
    assert uri.startswith("test+tcp://127.0.0.1:") and "(a fake hypervisor: no real guests, no migration)" in output
    # A domain defined through one connection is seen through the next: one libvirtd, shared state.
    conn = libvirt.open(uri)
    assert conn.getType() == "TEST"
    conn.defineXML("<domain type='test'><name>kept</name><memory>65536</memory><os><type>hvm</type></os></domain>")
    conn.close()
    again = libvirt.open(uri)
    assert "kept" in [dom.name() for dom in again.listAllDomains(0)]
    again.close()
    assert run("lab", "status") == "lab: hv1 up\n"

    state = labconfig.configured_fallback()._state()
    assert "already running" in run("lab", "up")  # no second libvirtd
    assert labconfig.configured_fallback()._state() == state

    assert "(test driver) down (2 processes stopped)" in run("lab", "down")
    assert not port_open(state["port"]) and not Path(f"/proc/{state['pid']}/cmdline").exists()
    assert run("lab", "status") == "lab: not running\n"


@pytest.mark.lab
@pytest.mark.django_db(transaction=True)
def test_the_demo_loads_onto_the_fallback(var_dir, monkeypatch):
    monkeypatch.setattr(labconfig, "check_prerequisites", not_root)
    Site.objects.create(name="Amsterdam DC1", slug="ams1")
    run("lab", "up")
    uri = labconfig.configured_fallback().load()["hv1"].uri

    output = run("load_lab_demo")

    assert output.startswith("demo: on libvirt's test driver (the QEMU lab could not run here)")
    assert list(Hypervisor.objects.values_list("host__hostname", "uri")) == [("hv1", uri)]
    # The demo guests that belong on hv1, synced from the test driver itself (with its built-in "test").
    assert dict(VirtualMachine.objects.values_list("name", "state")) == {
        "titan": "running", "apollo": "running", "test": "running"}


def test_without_any_libvirtd_the_command_fails_in_one_line(var_dir, monkeypatch, tmp_path):
    monkeypatch.setattr(labconfig, "check_prerequisites", not_root)
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without libvirtd
    with pytest.raises(CommandError) as error:
        run("lab", "up")
    assert str(error.value) == (f"lab: cannot start: {NOT_ROOT}; libvirtd is not installed either, so there is "
                                "no test-driver fallback")
    assert "\n" not in str(error.value)
    assert labconfig.configured_fallback().load() == {}
