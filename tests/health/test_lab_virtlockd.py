"""The second guard against a VM running twice: the lab's hypervisors use libvirt's lockd
lock manager (virtlockd, lockspace on the shared storage), so a second QEMU on a disk
another lab host already runs is refused by libvirt itself, whatever the console thinks."""

import subprocess
import uuid

import libvirt
import pytest

from hypervisors.services.actions import domain_xml

pytestmark = pytest.mark.lab


def test_a_disk_running_on_one_host_cannot_be_started_on_another(lab):
    hosts = lab.load()
    disk = lab.shared_storage / f"lockd-{uuid.uuid4().hex[:8]}.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    first = libvirt.open(hosts["rhine"].uri)
    second = libvirt.open(hosts["danube"].uri)
    domain_uuid = str(uuid.uuid4())
    xml = domain_xml("lockd-guest", 1, 64, str(disk), domain_uuid=domain_uuid)
    running = twin = None
    try:
        running = first.defineXML(xml)
        running.create()
        twin = second.defineXML(xml)  # same name, uuid and disk: what a wrong HA restart would do
        with pytest.raises(libvirt.libvirtError) as refused:
            twin.create()
        message = str(refused.value)
        del refused  # its traceback holds this frame: a cycle that would keep the connections open past the lab
        assert "lock" in message.lower()
        assert running.isActive() and not twin.isActive()
        # Once the first one stops, its lease is released and the other host may start it.
        running.destroy()
        twin.create()
        assert twin.isActive()
    finally:
        for dom in (running, twin):
            if dom is not None:
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
        running = twin = dom = None  # a domain keeps its connection open
        first.close()
        second.close()
        disk.unlink(missing_ok=True)
