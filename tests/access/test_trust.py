"""Trust rules of SSH host keys: only an admin trusts (the one service function the console
and the API call), a key is trusted for the address its host is reached at, and a changed
address ends the trust (journaled on the host), so nothing logs in to another machine
with it: not the SSH checks, not a cold migration's disk copy."""

import io
import uuid

import paramiko
import pytest
from django.core.exceptions import PermissionDenied

from access.addresses import ssh_address
from access.models import HostKey, SSHCredential
from access.services import trust
from core.actions import SYSTEM
from hypervisors.models import Hypervisor, VirtualMachine
from hypervisors.services import disk_copy
from hypervisors.services.migration import MigrationRefused, check_local_disk_copy
from inventory.models import Host, Interface, JournalEntry
from tests.conftest import token_client


@pytest.fixture
def trusted(host, keypair, admin_user):
    host.mgmt_address = "198.18.0.7"
    host.save()
    return trust.trust_public_key(host, keypair[1], user=admin_user)


def journal(host):
    return list(JournalEntry.objects.filter(host=host).order_by("pk").values_list("text", flat=True))


def test_only_an_admin_or_the_system_trusts(host, keypair, operator, pending_key):
    with pytest.raises(PermissionDenied):
        trust.trust(pending_key, user=operator, confirm_fingerprint="SHA256:abc")
    with pytest.raises(PermissionDenied):
        trust.trust_public_key(host, keypair[1], user=operator)
    assert HostKey.objects.get(pk=pending_key.pk).trusted is False
    assert trust.trust(pending_key, user=SYSTEM).trusted  # the system: the lab set-up on the server


def test_a_key_is_trusted_for_the_address_the_host_is_reached_at(trusted, host):
    assert trusted.trusted_address == "198.18.0.7"
    assert "at 198.18.0.7" in journal(host)[-1]
    assert trust.trusted_keys([host]) == {host.pk: [(trusted.key_type, trusted.key)]}


def test_saving_a_host_without_moving_it_keeps_the_trust(trusted, host):
    host.notes = "new rack label"
    host.save()
    assert HostKey.objects.get(pk=trusted.pk).trusted


def test_a_new_management_address_revokes_the_trust_and_says_so(trusted, host, operator):
    client = token_client(operator)
    response = client.patch(f"/api/inventory/hosts/{host.pk}/", {"mgmt_address": "198.18.0.99"}, format="json")
    assert response.status_code == 200, response.json()

    key = HostKey.objects.get(pk=trusted.pk)  # the row stays, for an admin to trust again
    assert not key.trusted and key.trusted_by is None and key.trusted_address == ""
    assert journal(host)[-1] == (
        f"SSH host key {key.key_type} {key.fingerprint} of luna is no longer trusted: it was trusted at 198.18.0.7, "
        "and the host is now reached at 198.18.0.99. Nothing logs in to the host until an admin compares the "
        "fingerprint again and trusts it.")
    assert trust.trusted_keys([host]) == {}
    assert client.get("/api/health/host-keys/", {"trusted": "false"}).json()["count"] == 1


def test_an_address_changed_behind_the_signals_back_is_caught_where_keys_are_used(trusted, host):
    Host.objects.filter(pk=host.pk).update(mgmt_address="198.18.0.99")  # no save(): no signal
    host.refresh_from_db()
    assert trust.trusted_keys([host]) == {}
    assert not HostKey.objects.get(pk=trusted.pk).trusted
    assert "now reached at 198.18.0.99" in journal(host)[-1]


def test_an_interface_address_standing_in_for_the_management_address_counts(host, keypair, admin_user):
    Interface.objects.create(host=host, name="eth0", ip_address="198.18.5.1")
    key = trust.trust_public_key(host, keypair[1], user=admin_user)
    assert key.trusted_address == "198.18.5.1"
    Interface.objects.filter(host=host).first().delete()
    Interface.objects.create(host=host, name="eth0", ip_address="198.18.5.2")
    assert not HostKey.objects.get(pk=key.pk).trusted


def test_trusting_again_binds_the_key_to_the_new_address(trusted, host, admin_user):
    host.mgmt_address = "198.18.0.99"
    host.save()
    again = trust.trust(HostKey.objects.get(pk=trusted.pk), user=admin_user, confirm_fingerprint=trusted.fingerprint)
    assert again.trusted and again.trusted_address == "198.18.0.99"
    assert trust.trusted_keys([host]) == {host.pk: [(trusted.key_type, trusted.key)]}


# --- cold migration: the disk copy logs in only with keys trusted for where it connects ------------------


@pytest.fixture
def local_estate(site, keypair, admin_user):
    """rhine and danube without shared storage, SSH credential and host keys trusted, and a
    shut-off VM with a local disk on rhine. danube has no inventory address: it is reached
    at its libvirt URI's host."""
    private = paramiko.ECDSAKey.generate()
    text = io.StringIO()
    private.write_private_key(text)
    SSHCredential.objects.create(name="lab", private_key=text.getvalue(), is_default=True)
    rhine = Host.objects.create(hostname="rhine", site=site, status="active", mgmt_address="198.18.77.11")
    danube = Host.objects.create(hostname="danube", site=site, status="active")
    hypervisors = {host.hostname: Hypervisor.objects.create(host=host, uri=f"qemu+tcp://{host.hostname}.example/system",
                                                            connection="connected")
                   for host in (rhine, danube)}
    for hypervisor in hypervisors.values():
        trust.trust_public_key(hypervisor.host, keypair[1], user=admin_user)
    vm = VirtualMachine.objects.create(uuid=uuid.uuid4(), name="ceres", hypervisor=hypervisors["rhine"],
                                       state="shutoff", memory_mib=64,
                                       disks=[{"target": "vda", "path": "/var/lib/libvirt/images/ceres.img"}])
    return hypervisors, vm


def test_the_disk_copy_uses_keys_trusted_for_the_address_it_connects_to(local_estate):
    hypervisors, vm = local_estate
    assert HostKey.objects.get(host__hostname="danube").trusted_address == "danube.example"
    assert disk_copy.ssh_login(hypervisors["danube"]).address == "danube.example"
    check_local_disk_copy(vm, hypervisors["danube"])  # nothing refused


def test_pointing_a_hypervisor_at_another_machine_refuses_the_cold_migration(local_estate, operator):
    hypervisors, vm = local_estate
    danube = hypervisors["danube"].host
    response = token_client(operator).patch(f"/api/inventory/hosts/{danube.pk}/", {"mgmt_address": "198.18.66.6"},
                                            format="json")
    assert response.status_code == 200

    with pytest.raises(MigrationRefused, match="danube has no trusted SSH host key"):
        check_local_disk_copy(vm, Hypervisor.objects.get(host=danube))
    refused = token_client(operator).post(f"/api/hypervisors/vms/{vm.pk}/migrate/",
                                          {"target": hypervisors["danube"].pk, "live": False}, format="json")
    assert refused.status_code == 400
    assert refused.json()["target"] == ["ceres has local disks to copy, but danube has no trusted SSH host key: "
                                        "trust it on the health page first"]


def test_a_hypervisor_uri_naming_another_machine_ends_the_trust_at_the_next_login(local_estate):
    hypervisors, vm = local_estate
    Hypervisor.objects.filter(pk=hypervisors["danube"].pk).update(uri="qemu+tcp://impostor.example/system")
    danube = Hypervisor.objects.select_related("host").get(pk=hypervisors["danube"].pk)
    assert ssh_address(danube.host) == "impostor.example"

    with pytest.raises(disk_copy.DiskCopyRefused, match="danube has no trusted SSH host key"):
        disk_copy.ssh_login(danube)
    assert "it was trusted at danube.example, and the host is now reached at impostor.example" in journal(danube.host)[-1]
