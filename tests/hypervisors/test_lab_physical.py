"""The lab's physical hosts (ceres, an app server, reading from vesta, a database server):
checked from the outside with ssh, lsblk, losetup, psql's protocol and HTTP, never with
the lab's own idea of itself."""

import json
import os
import subprocess
import urllib.error
import urllib.request
import uuid
import zlib
from pathlib import Path

import psycopg
import pytest

from health.drivers import fence_lab
from hypervisors.demo import load_lab_demo
from hypervisors.lab import Lab, LabError
from hypervisors.models import Hypervisor
from inventory.models import Host, Role, Site
from tests.fixtures.lab import LAB_DISK_SIZE, on_host, ssh

pytestmark = pytest.mark.lab

APP, DATABASE = "ceres", "vesta"


@pytest.fixture(autouse=True)
def physical_hosts_up(lab):
    """Whatever a test did to them, the physical hosts are reachable and up afterwards."""
    yield
    for name in (APP, DATABASE):
        lab.heal(name)
    lab.up(log=lambda line: None)


def attached(image):
    """The loop devices backed by the image, as losetup itself lists them."""
    listing = subprocess.run(["losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE"],
                             capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in listing.splitlines() if line.split()[1:] == [str(image)]]


def shop(lab, sql, *params):
    with psycopg.connect(host=lab.host(DATABASE).address, dbname="shop", user="postgres", connect_timeout=5) as conn:
        return conn.execute(sql, params).fetchone()


def get_app(lab):
    with urllib.request.urlopen(f"http://{lab.host(APP).address}:8080/", timeout=15) as answer:
        return answer.status, json.loads(answer.read())


def test_a_physical_host_is_its_own_machine_over_ssh(lab):
    host = lab.host(APP)
    assert host.kind == "physical" and host.service == "app"
    assert on_host(lab, APP, "hostname").strip() == APP
    assert not lab.host("rhine").disk_device and lab.host("rhine").kind == "hypervisor"
    with pytest.raises(LabError):
        host.uri  # noqa: B018  no libvirt to point at


def test_lsblk_shows_exactly_the_hosts_own_disk_with_size_and_mountpoint(lab):
    for name in (APP, DATABASE):
        device = lab.host(name).disk_device
        assert attached(lab.root / name / "disk.img") == [f"/dev/{device}"]
        listed = json.loads(on_host(lab, name, "lsblk -J -b -o NAME,SIZE,TYPE,MOUNTPOINTS,FSUSED,FSTYPE"))
        assert [(d["name"], d["size"], d["type"], d["mountpoints"], d["fstype"]) for d in listed["blockdevices"]] == [
            (device, LAB_DISK_SIZE, "loop", ["/srv"], "ext4")]
        assert int(listed["blockdevices"][0]["fsused"]) > 0


def test_data_on_the_disk_survives_power_off_and_power_on(lab):
    device, token = lab.host(APP).disk_device, uuid.uuid4().hex
    on_host(lab, APP, f"echo {token} > /srv/survivor && sync")
    lab.power_off(APP)
    assert lab.power_state(APP)["state"] == "off"
    assert ssh(lab, APP, "true", connect_timeout=3).returncode != 0
    assert attached(lab.root / APP / "disk.img") == [f"/dev/{device}"]  # the disk stays in the machine
    lab.power_on(APP)
    assert lab.host(APP).disk_device == device
    assert on_host(lab, APP, "cat /srv/survivor").strip() == token
    assert on_host(lab, APP, "findmnt -n -o SOURCE /srv").strip() == f"/dev/{device}"


def test_a_partition_cuts_ssh_off_and_heal_restores_it(lab):
    lab.partition(APP)
    failed = ssh(lab, APP, "true", connect_timeout=3)
    assert failed.returncode == 255, failed.stderr
    assert lab.power_state(APP)["state"] == "on"  # cut off, not dead
    lab.heal(APP)
    assert on_host(lab, APP, "hostname").strip() == APP


def test_the_database_server_answers_over_the_lab_network(lab):
    count, = shop(lab, "SELECT count(*) FROM orders")
    assert count >= 5000
    version, = shop(lab, "SHOW server_version")
    assert version.startswith("15")
    # Its cluster lives on its own disk.
    assert on_host(lab, DATABASE, "test -s /srv/postgresql/15/main/PG_VERSION && echo yes").strip() == "yes"


def test_the_app_serves_what_it_reads_from_the_database_and_logs_to_its_disk(lab):
    customer = f"test-{uuid.uuid4().hex[:8]}"
    order_id, = shop(lab, "INSERT INTO orders (customer, item, quantity, amount, placed_at) "
                          "VALUES (%s, 'test rail', 1, 9.99, now()) RETURNING id", customer)
    logged_before = int(on_host(lab, APP, "cat /srv/app/requests.log 2>/dev/null | wc -l"))

    status, body = get_app(lab)

    assert status == 200, body
    count, = shop(lab, "SELECT count(*) FROM orders")
    assert body["orders"] == count and body["database"] == lab.host(DATABASE).address
    assert body["latest"]["id"] == order_id and body["latest"]["customer"] == customer
    assert int(on_host(lab, APP, "wc -l < /srv/app/requests.log")) == logged_before + 1


def test_the_app_answers_503_while_its_database_is_off(lab):
    lab.power_off(DATABASE)
    with pytest.raises(urllib.error.HTTPError) as refused:
        get_app(lab)
    assert refused.value.code == 503
    assert lab.host(DATABASE).address in json.loads(refused.value.read())["error"]


def test_the_lab_fence_agent_powers_a_physical_host_off(lab):
    result = fence_lab.power_off(str(lab.root), DATABASE, timeout=10)
    assert result.fenced and result.detail == {"state": "off", "processes": 0, "ssh_port_open": False}
    assert "ssh port closed" in result.transcript
    lab.power_on(DATABASE)
    count, = shop(lab, "SELECT count(*) FROM orders")  # booted from its disk: the data is there
    assert count >= 5000


def test_the_lab_demo_manages_the_physical_hosts_at_their_lab_addresses(lab, db):
    site = Site.objects.create(name="Amsterdam DC1", slug="ams1")
    app = Role.objects.create(name="App server", slug="app")
    # As the inventory demo made it: a made-up front-end and BMC address.
    Host.objects.create(hostname=APP, site=site, role=app, status="active", mgmt_address="10.10.20.10",
                        bmc_address="10.99.20.10")
    physical = {name: host for name, host in lab.load().items() if host.kind == "physical"}

    load_lab_demo(physical, log=lambda line: None)

    ceres, vesta = Host.objects.get(hostname=APP), Host.objects.get(hostname=DATABASE)
    assert (ceres.mgmt_address, ceres.bmc_address, ceres.role) == (lab.host(APP).address, "", app)
    assert vesta.mgmt_address == lab.host(DATABASE).address and vesta.status == "active"
    assert not Hypervisor.objects.exists()


def test_lab_down_detaches_the_disks_and_leaves_nothing_behind(tmp_path):
    # A lab of its own (one plain physical host), on a network of the 242-249 range no other
    # test lab uses, so the session's lab is never taken down.
    var_dir = Path(os.environ.get("OPSCONSOLE_VAR_DIR", "var")).resolve()
    small = Lab(root=tmp_path / "lab", net_index=242 + zlib.crc32(str(var_dir).encode()) % 8, names=(),
                physical=("pallas",), disk_size=64 * 1024**2)
    image = small.root / "pallas" / "disk.img"
    try:
        small.up(log=lambda line: None)
        assert attached(image) == [f"/dev/{small.host('pallas').disk_device}"]
    finally:
        small.down(log=lambda line: None)
    assert attached(image) == []
    assert not Path(f"/run/netns/{small.bridge}-pallas").exists()
    assert subprocess.run(["ip", "link", "show", small.bridge], capture_output=True).returncode != 0
