"""Which disks a cold migration copies, and the sparse copy loop, without a lab."""

import io
import uuid

import paramiko
import pytest
from django.urls import reverse

from access.models import SSHCredential
from access.services import trust
from core.models import Job
from hypervisors.drivers.libvirt_driver import parse_devices
from hypervisors.models import Hypervisor, VirtualMachine
from hypervisors.services.actions import domain_xml
from hypervisors.services.migration import local_disk_paths
from inventory.models import Host, Site
from tests.conftest import token_client


def hv(shared, path=""):
    return Hypervisor(shared_storage=shared, shared_storage_path=path)


@pytest.mark.parametrize("source, target, copied", [
    (hv(True, "/srv/shared"), hv(True, "/srv/shared/"), []),
    (hv(True, "/srv/shared"), hv(False), ["/srv/shared/a.qcow2"]),  # the target does not mount it
    (hv(True, "/srv/shared"), hv(True, "/mnt/other"), ["/srv/shared/a.qcow2"]),
    (hv(True), hv(True), []),  # no path declared: every disk of both counts as shared, as before
    (hv(False), hv(False), ["/srv/shared/a.qcow2"]),
])
def test_disks_outside_storage_both_share_are_copied(source, target, copied):
    disks, _nics = parse_devices(domain_xml("ceres", 1, 64, disk_path="/srv/shared/a.qcow2"))
    assert local_disk_paths(disks, source, target) == copied


def test_a_path_merely_starting_like_the_shared_one_is_local():
    assert not hv(True, "/srv/shared").shares_disk("/srv/shared-not/a.img")
    assert hv(True, "/srv/shared").shares_disk("/srv/shared/vm/a.img")


# --- refused at once when the copy could not happen ------------------------------------------------


@pytest.fixture
def local_estate(db):
    """rhine and danube without shared storage, and a shut-off VM with a local disk on rhine."""
    site = Site.objects.create(name="Lab", slug="lab")
    hypervisors = {}
    for name in ("rhine", "danube"):
        host = Host.objects.create(hostname=name, site=site, status="active", cpu_cores=8, memory_mib=8192,
                                   mgmt_address=f"198.18.77.{len(hypervisors) + 11}")
        hypervisors[name] = Hypervisor.objects.create(host=host, uri=f"qemu+tcp://{name}.example/system",
                                                      connection="connected")
    vm = VirtualMachine.objects.create(uuid=uuid.uuid4(), name="ceres", hypervisor=hypervisors["rhine"],
                                       state="shutoff", memory_mib=64,
                                       disks=[{"target": "vda", "path": "/var/lib/libvirt/images/ceres.img"}])
    return hypervisors, vm


@pytest.fixture(scope="module")
def keys():
    """A private key for the credential (it must parse) and a host's public key line."""
    private, host = paramiko.ECDSAKey.generate(), paramiko.ECDSAKey.generate()
    text = io.StringIO()
    private.write_private_key(text)
    return text.getvalue(), f"{host.get_name()} {host.get_base64()}"


def migrate(client, vm, target):
    return client.post(f"/api/hypervisors/vms/{vm.pk}/migrate/", {"target": target.pk, "live": False}, format="json")


def test_a_cold_migration_with_local_disks_needs_ssh_access_to_both_hosts(operator, admin_user, local_estate, keys):
    hypervisors, vm = local_estate
    private_key, host_key_line = keys
    client = token_client(operator)

    refused = migrate(client, vm, hypervisors["danube"])
    assert refused.status_code == 400
    assert refused.json()["target"] == ["ceres has local disks to copy, but no SSH credential for rhine: add one on "
                                        "the health page or store a private key on the hypervisor"]

    SSHCredential.objects.create(name="lab", private_key=private_key, is_default=True)
    refused = migrate(client, vm, hypervisors["danube"])
    assert refused.json()["target"] == ["ceres has local disks to copy, but rhine has no trusted SSH host key: "
                                        "trust it on the health page first"]

    for hypervisor in hypervisors.values():
        trust.trust_public_key(hypervisor.host, host_key_line, user=admin_user)  # trusting is an admin's act
    accepted = migrate(client, vm, hypervisors["danube"])
    assert accepted.status_code == 202 and Job.objects.get(pk=accepted.json()["job"]).kind == "hypervisors.cold_migrate"


def test_the_console_form_says_the_same(client, operator, local_estate):
    hypervisors, vm = local_estate
    client.force_login(operator)
    response = client.post(reverse("hypervisors:vm_migrate", args=[vm.pk]), {"target": hypervisors["danube"].pk})
    assert response.status_code == 200 and not Job.objects.exists()
    assert "ceres has local disks to copy, but no SSH credential for rhine" in response.content.decode()


def test_the_shared_storage_path_is_set_through_the_api_and_must_be_absolute(admin_user, local_estate):
    hypervisors, _vm = local_estate
    url = f"/api/hypervisors/hypervisors/{hypervisors['rhine'].pk}/"
    client = token_client(admin_user)

    bad = client.patch(url, {"shared_storage_path": "srv/vmstore"}, format="json")
    assert bad.status_code == 400 and bad.json() == {"shared_storage_path": ["Enter an absolute path, such as "
                                                                            "/srv/vmstore."]}
    good = client.patch(url, {"shared_storage": True, "shared_storage_path": "/srv/vmstore"}, format="json")
    assert good.status_code == 200 and good.json()["shared_storage_path"] == "/srv/vmstore"
    assert Hypervisor.objects.get(pk=hypervisors["rhine"].pk).shares_disk("/srv/vmstore/ceres.img")
