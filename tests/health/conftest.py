"""Health test fixtures: the lab's hosts in the inventory with an SSH credential, short
detection settings, a webhook receiver on 127.0.0.1, and outcomes for unit tests."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from access.models import SSHCredential
from access.services import trust
from core.actions import SYSTEM
from health.checks.base import Outcome
from health.models import AlertTarget, SiteRecoveryPolicy
from hypervisors.models import Hypervisor, VirtualMachine
from hypervisors.services import sync
from inventory.models import Host, Role, Site
from tests.health.lab_guests import clear_guests, start_guest_with_disk
from tests.hypervisors.conftest import start_guest


@pytest.fixture(autouse=True)
def fast_detection(settings):
    """Short timeouts and thresholds: a test sweeps in seconds."""
    settings.HEALTH_FAILURE_THRESHOLD = 3
    settings.HEALTH_FAILURE_WINDOW_SECONDS = 300
    settings.HEALTH_RECOVERY_THRESHOLD = 2
    settings.HEALTH_FLAP_THRESHOLD = 6
    for check in ("SSH", "METRICS", "LIBVIRT", "TCP", "BMC"):
        setattr(settings, f"HEALTH_TIMEOUT_{check}", 3)
    settings.HEALTH_ALERT_RETRY_SECONDS = 0.5
    settings.HEALTH_SWEEP_CONCURRENCY = 8
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return settings


@pytest.fixture
def lab_site(db):
    return Site.objects.create(name="Lab", slug="lab")


@pytest.fixture
def lab_estate(lab, lab_site):  # noqa: F811
    """The lab's hypervisors as active hypervisors in the inventory (thames as spare), reachable
    over SSH with the lab key as the default credential. No host key is trusted yet."""
    role = Role.objects.create(name="Hypervisor", slug="hypervisor")
    SSHCredential.objects.create(name="lab", username="root", private_key=lab.ssh_key.read_text(), is_default=True)
    hosts = {}
    for name, lab_host in lab.hypervisors().items():
        host = Host.objects.create(hostname=name, site=lab_site, role=role, mgmt_address=lab_host.address,
                                   status="spare" if name == "thames" else "active", cpu_cores=4, memory_mib=4096)
        Hypervisor.objects.create(host=host, uri=lab_host.uri, shared_storage=True)
        hosts[name] = host
    return hosts


def trust_lab_keys(lab, hosts, user=SYSTEM):  # noqa: F811
    """Trust each lab host's current SSH host key, as read from the lab itself."""
    for name, lab_host in lab.load().items():
        if name in hosts:
            trust.trust_public_key(hosts[name], lab_host.ssh_host_key, user=user)


@pytest.fixture
def trusted_estate(lab, lab_estate):  # noqa: F811
    trust_lab_keys(lab, lab_estate)
    return lab_estate


class Receiver:
    """An HTTP server on 127.0.0.1 recording JSON POSTs; the first `fail_first` answer 500."""

    def __init__(self, fail_first=0):
        self.posts, self.fail_first, self.calls = [], fail_first, 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.calls += 1
                if receiver.calls <= receiver.fail_first:
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"not now")
                    return
                receiver.posts.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self):
        return [post["event"] for post in self.posts]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ha_guests(lab, trusted_estate):
    """Two small HA guests on rhine (io with a disk on the shared storage), known to the
    console; auto-recovery on at the site."""
    clear_guests(lab)
    rhine = trusted_estate["rhine"].hypervisor
    io, disk = start_guest_with_disk(lab, rhine, "io")
    guests = [io, start_guest(rhine, "europa")]
    sync.sync_all()
    VirtualMachine.objects.filter(uuid__in=guests).update(ha_enabled=True)
    SiteRecoveryPolicy.objects.create(site=trusted_estate["rhine"].site, auto_recover=True)
    yield guests
    clear_guests(lab)
    disk.unlink(missing_ok=True)


@pytest.fixture
def receiver(db):
    receiver = Receiver()
    AlertTarget.objects.create(name="test hook", kind="webhook", address=receiver.url)
    yield receiver
    receiver.close()


@pytest.fixture
def eager_celery():
    """Tasks sent with .delay() run at once in this process (retries too, without waiting)."""
    from opsconsole.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = previous


def outcome(check="ssh", ok=True, alive=None, message=None):
    """An Outcome as a check would return it; alive defaults to ok."""
    return Outcome(check, ok, ok if alive is None else alive, message or ("fine" if ok else "connection refused"))
