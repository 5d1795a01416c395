"""Guests on the lab for the failover tests, and questions asked of libvirt itself."""

import subprocess
import uuid

import libvirt

from health.models import HostHealth
from health.services import sweep
from hypervisors.services.actions import domain_xml


def clear_guests(lab):
    for lab_host in lab.hypervisors().values():
        conn = libvirt.open(lab_host.uri)
        for dom in conn.listAllDomains(0):
            if dom.isActive():
                dom.destroy()
            if dom.isPersistent():
                dom.undefine()
        conn.close()


def running_on(lab, domain_uuid):
    """Every lab host whose libvirt runs the domain (all hosts must answer)."""
    found = []
    for name, lab_host in lab.hypervisors().items():
        conn = libvirt.open(lab_host.uri)
        try:
            if conn.lookupByUUIDString(domain_uuid).isActive():
                found.append(name)
        except libvirt.libvirtError:
            pass
        conn.close()
    return found


def start_guest_with_disk(lab, hypervisor, name):
    """A guest whose disk is on the shared storage (so virtlockd holds a lease on it)."""
    disk = lab.shared_storage / f"{name}-{uuid.uuid4().hex[:8]}.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    conn = libvirt.open(hypervisor.uri)
    dom = conn.defineXML(domain_xml(name, 1, 64, str(disk), domain_uuid=uuid.uuid4()))
    dom.create()
    domain_uuid = dom.UUIDString()
    conn.close()
    return domain_uuid, disk


def rounds_until_failed(host, limit=6):
    for _ in range(limit):
        sweep.sweep(host_ids=[host.pk], checks=["ssh", "libvirt"])
        if HostHealth.objects.get(host=host).state == "failed":
            return True
    return False


def running_on_reachable(lab, domain_uuid):
    """Like running_on, skipping hosts whose libvirt does not answer (the dead one)."""
    found = []
    for name, lab_host in lab.hypervisors().items():
        try:
            conn = libvirt.open(lab_host.uri)
        except libvirt.libvirtError:
            continue
        try:
            if conn.lookupByUUIDString(domain_uuid).isActive():
                found.append(name)
        except libvirt.libvirtError:
            pass
        conn.close()
    return found
