"""A hypervisor's libvirt URI is an address, never a way to run a program or read a file:
only known drivers, transports, paths and a short list of options are accepted (API and
any model form), and the driver checks a stored URI again before libvirt opens it."""

import socket
import stat

import pytest
from django.forms import modelform_factory

from hypervisors.drivers import libvirt_driver as driver
from hypervisors.models import Hypervisor
from inventory.models import Host

HYPERVISORS = "/api/hypervisors/hypervisors/"

ACCEPTED = [
    "qemu+tcp://127.0.0.1:16509/system",  # the QEMU lab
    "test+tcp://127.0.0.1:17001/default",  # the test-driver lab
    "qemu+ssh://root@elbe.example/system",
    "qemu+ssh://root@elbe.example:2222/system?no_tty=1",
    "qemu+tls://elbe.example/system?mode=direct",
    "qemu+libssh2://admin@192.0.2.7/system",
    "qemu://elbe.example/system",
    "qemu:///system",
    "qemu+unix:///session",
    "qemu+tcp://[2001:db8::1]/system",
]

REFUSED = [
    "qemu+ssh://h/system?command=/usr/bin/id&no_verify=1&keyfile=/root/.ssh/id_rsa",
    "qemu+ssh://h/system?command=/usr/bin/id",
    "qemu+ssh://h/system?netcat=/tmp/nc",
    "qemu+ssh://h/system?keyfile=/root/.ssh/id_rsa",
    "qemu+libssh2://h/system?known_hosts=/tmp/known",
    "qemu+libssh2://h/system?known_hosts_verify=ignore",
    "qemu+tls://h/system?no_verify=1",
    "qemu+tls://h/system?pkipath=/tmp/pki",
    "qemu+unix:///system?socket=/var/run/postgresql/.s.PGSQL.5432",
    "qemu+ssh://h/system?comm%61nd=/usr/bin/id",  # an escaped name is still the option
    "qemu+ssh://h/system?no_tty=1;command=/usr/bin/id",  # libvirt also splits on ';'
    "qemu+ssh://h/system?no_tty=yes",
    "qemu+ssh://h/system?no_tty=1&no_tty=0",
    "qemu+ssh://h/system?name=qemu:///embed",
    "qemu+ext://h/system?command=/usr/bin/id",  # the ext transport runs a program
    "qemu+gopher://h/system",
    "xen+ssh://h/system",
    "http://rhine/system",
    "qemu:///embed?root=/tmp/x",
    "test:///etc/passwd",  # the test driver would load this file
    "test+tcp://127.0.0.1:17001/etc/shadow",
    "qemu+ssh://-oProxyCommand=id/system",
    "qemu+ssh://-l@h/system",
    "qemu+ssh://root:secret@h/system",
    "qemu+tcp:///system",  # a remote transport without a host
    "qemu+unix://h/system",
    "qemu+tcp://h:99999/system",
    "qemu+tcp://h/system#x",
    "qemu+tcp://h/sys tem",
    "",
]


@pytest.fixture
def elbe(site):
    return Host.objects.create(hostname="elbe", site=site, status="active")


@pytest.mark.parametrize("uri", ACCEPTED)
def test_lab_and_ordinary_uris_are_accepted(admin_api, elbe, uri):
    response = admin_api.post(HYPERVISORS, {"host": elbe.pk, "uri": uri})
    assert response.status_code == 201, response.json()
    assert Hypervisor.objects.get(host=elbe).uri == uri


@pytest.mark.parametrize("uri", REFUSED)
def test_uris_that_run_read_or_skip_something_are_field_errors(admin_api, elbe, uri):
    response = admin_api.post(HYPERVISORS, {"host": elbe.pk, "uri": uri})
    assert response.status_code == 400, response.json()
    assert list(response.json()) == ["uri"]
    assert not Hypervisor.objects.exists()


def test_changing_a_uri_to_a_command_is_refused(admin_api, elbe):
    hypervisor = Hypervisor.objects.create(host=elbe, uri="qemu+ssh://root@elbe/system")
    response = admin_api.patch(f"{HYPERVISORS}{hypervisor.pk}/", {"uri": REFUSED[0]})
    assert response.status_code == 400 and "not allowed" in response.json()["uri"][0]
    hypervisor.refresh_from_db()
    assert hypervisor.uri == "qemu+ssh://root@elbe/system"


def test_a_console_form_of_the_model_gives_the_same_field_error(elbe):
    form_class = modelform_factory(Hypervisor, fields=["host", "uri"])
    form = form_class(data={"host": elbe.pk, "uri": REFUSED[0]})
    assert not form.is_valid()
    assert list(form.errors) == ["uri"] and "command" in form.errors["uri"][0]
    assert form_class(data={"host": elbe.pk, "uri": ACCEPTED[0]}).is_valid()


@pytest.fixture
def listener():
    """Something that accepts TCP connections, so the driver's reachability probe passes
    and only the URI check stands between a stored URI and libvirt."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_a_stored_uri_with_a_command_never_runs_it(tmp_path, listener):
    marker = tmp_path / "ran"
    script = tmp_path / "fake-ssh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    uri = f"qemu+ssh://127.0.0.1:{listener}/system?command={script}&no_tty=1"  # saved before the rules
    with pytest.raises(driver.HypervisorUnreachable, match="option 'command' is not allowed"):
        driver.open_connection(uri)
    assert not marker.exists()


def test_the_driver_adds_the_servers_key_file_and_known_hosts(settings):
    settings.LIBVIRT_SSH_KEYFILE = "/etc/opsconsole/libvirt_key"
    settings.LIBVIRT_SSH_KNOWN_HOSTS = "/etc/opsconsole/known_hosts"
    assert driver.with_server_options("qemu+ssh://root@h/system?no_tty=1") == (
        "qemu+ssh://root@h/system?no_tty=1&keyfile=%2Fetc%2Fopsconsole%2Flibvirt_key"
    )
    assert driver.with_server_options("qemu+libssh2://h/system") == (
        "qemu+libssh2://h/system?keyfile=%2Fetc%2Fopsconsole%2Flibvirt_key"
        "&known_hosts=%2Fetc%2Fopsconsole%2Fknown_hosts"
    )
    assert driver.with_server_options("qemu+tcp://127.0.0.1:16509/system") == "qemu+tcp://127.0.0.1:16509/system"


def test_without_server_settings_the_uri_is_opened_as_given(settings):
    settings.LIBVIRT_SSH_KEYFILE = ""
    settings.LIBVIRT_SSH_KNOWN_HOSTS = ""
    assert driver.with_server_options("qemu+ssh://root@h/system") == "qemu+ssh://root@h/system"


def test_libssh_transports_are_probed_on_the_ssh_port(monkeypatch):
    probed = []

    def refuse(address, timeout):
        probed.append(address)
        raise ConnectionRefusedError("refused")

    monkeypatch.setattr(driver.socket, "create_connection", refuse)
    for uri in ("qemu+libssh://h.example/system", "qemu+libssh2://h.example:2200/system"):
        with pytest.raises(driver.HypervisorUnreachable):
            driver.probe(uri)
    assert probed == [("h.example", 22), ("h.example", 2200)]
