"""VM power and lifecycle actions. Each runs inside a Job and reports what it did."""

import uuid as uuidlib
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from django.utils import timezone

from inventory.services import suggest_name

from ..drivers import libvirt_driver as driver
from ..drivers.libvirt_driver import libvirt
from ..models import Hypervisor, VirtualMachine
from .locks import vm_lock


class ActionRefused(Exception):
    """The action does not apply to the VM as it is; nothing changed."""


POWER_ACTIONS = ("start", "shutdown", "reboot", "force-off")


def _domain(vm):
    if vm.hypervisor_id is None:
        raise ActionRefused(f"{vm.name} has no known hypervisor")
    conn = driver.connect(vm.hypervisor.uri)
    dom = driver.lookup(conn, vm.uuid)
    if dom is None:
        raise ActionRefused(f"libvirt on {vm.hypervisor.name} no longer has {vm.name}; it is stale")
    return conn, dom


def _record_state(vm, dom):
    state = driver.STATE_NAMES.get(dom.state()[0], "unknown")
    now = timezone.now()
    VirtualMachine.objects.filter(pk=vm.pk).update(state=state, last_seen=now, state_changed_at=now)
    return state


def power_action(vm, action, job, recorder, shutdown_timeout=120):
    if action not in POWER_ACTIONS:
        raise ActionRefused(f"unknown action {action!r}; one of {', '.join(POWER_ACTIONS)}")
    with vm_lock(vm, job):
        _conn, dom = _domain(vm)
        running = dom.isActive()
        if action == "start":
            if running:
                raise ActionRefused(f"{vm.name} is already running")
            dom.create()
        elif not running:
            raise ActionRefused(f"{vm.name} is not running")
        elif action == "force-off":
            dom.destroy()
        elif action == "reboot":
            dom.reboot(0)
        elif action == "shutdown":
            _graceful_shutdown(vm, dom, recorder, shutdown_timeout)
        state = _record_state(vm, dom)
        recorder.log(f"{action}: {vm.name} is now {state}")
    return {"vm": vm.name, "action": action, "state": state}


def _graceful_shutdown(vm, dom, recorder, timeout):
    recorder.log(f"Asking {vm.name} to shut down (ACPI), waiting up to {timeout} s")
    dom.shutdown()
    if driver.wait_for_state(dom, {"shutoff"}, timeout):
        return
    recorder.log(f"{vm.name} did not shut down within {timeout} s: forcing it off")
    dom.destroy()


def set_resources(vm, vcpus, memory_mib, job, recorder):
    """Change vCPUs and memory of a shut-off VM (its persistent definition)."""
    if vcpus < 1 or memory_mib < 16:
        raise ActionRefused("a VM needs at least 1 vCPU and 16 MiB of memory")
    with vm_lock(vm, job):
        _conn, dom = _domain(vm)
        if dom.isActive():
            raise ActionRefused(f"{vm.name} is running; shut it down to change its size")
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
        dom.setVcpusFlags(vcpus, flags | libvirt.VIR_DOMAIN_VCPU_MAXIMUM)
        dom.setVcpusFlags(vcpus, flags)
        dom.setMaxMemory(memory_mib * 1024)
        dom.setMemoryFlags(memory_mib * 1024, flags)
        VirtualMachine.objects.filter(pk=vm.pk).update(vcpus=vcpus, memory_mib=memory_mib)
        recorder.log(f"{vm.name}: {vcpus} vCPUs, {memory_mib} MiB")
    return {"vm": vm.name, "vcpus": vcpus, "memory_mib": memory_mib}


def delete_vm(vm, job, recorder, delete_disks=False):
    with vm_lock(vm, job):
        conn, dom = _domain(vm)
        if dom.isActive():
            dom.destroy()
            recorder.log(f"{vm.name} forced off before deletion")
        removed = []
        if delete_disks:
            for disk in vm.disks:
                if disk.get("path"):
                    try:
                        conn.storageVolLookupByPath(disk["path"]).delete(0)
                        removed.append(disk["path"])
                    except libvirt.libvirtError as exc:
                        recorder.log(f"Could not delete disk {disk['path']}: {exc}")
        flags = libvirt.VIR_DOMAIN_UNDEFINE_NVRAM if hasattr(libvirt, "VIR_DOMAIN_UNDEFINE_NVRAM") else 0
        dom.undefineFlags(flags)
        VirtualMachine.objects.filter(pk=vm.pk).update(state=VirtualMachine.State.GONE, hypervisor=None)
        recorder.log(f"{vm.name} undefined" + (f"; disks removed: {', '.join(removed)}" if removed else ""))
    return {"vm": vm.name, "disks_removed": removed}


def domain_xml(name, vcpus, memory_mib, disk_path=None, disk_format="qcow2", domain_uuid=None):
    """A minimal, TCG-friendly domain definition (VNC on loopback only). Built with an XML
    library, so a quote or '<' in a name or path stays data."""
    domain = ET.Element("domain", type="qemu")
    ET.SubElement(domain, "name").text = str(name)
    ET.SubElement(domain, "uuid").text = str(domain_uuid or uuidlib.uuid4())
    ET.SubElement(domain, "memory", unit="MiB").text = str(int(memory_mib))
    ET.SubElement(domain, "vcpu").text = str(int(vcpus))
    os_element = ET.SubElement(domain, "os")
    ET.SubElement(os_element, "type", arch="x86_64", machine="pc").text = "hvm"
    ET.SubElement(domain, "on_crash").text = "destroy"
    devices = ET.SubElement(domain, "devices")
    if disk_path:
        disk = ET.SubElement(devices, "disk", type="file", device="disk")
        ET.SubElement(disk, "driver", name="qemu", type=str(disk_format), cache="none")
        ET.SubElement(disk, "source", file=str(disk_path))
        ET.SubElement(disk, "target", dev="vda", bus="virtio")
    ET.SubElement(devices, "graphics", type="vnc", listen="127.0.0.1", autoport="yes")
    return ET.tostring(domain, encoding="unicode")


def create_vm(hypervisor: Hypervisor, job, recorder, vcpus, memory_mib, name=None, role=None, disk_gib=0,
              storage_dir=None, start=True):
    """Define (and start) a new VM from the built-in template. Its name comes from the
    role's naming scheme when none is given."""
    if name is None:
        name = suggest_name(role) if role else None
        if not name:
            raise ActionRefused("no name given and the role's naming scheme has no free name")
    if VirtualMachine.objects.filter(name=name).exclude(state=VirtualMachine.State.GONE).exists():
        raise ActionRefused(f"a VM named {name} already exists")
    conn = driver.connect(hypervisor.uri)
    disk_path = None
    if disk_gib:
        if not storage_dir:
            raise ActionRefused("a disk needs a storage directory")
        disk_path = f"{storage_dir.rstrip('/')}/{name}.qcow2"
        _create_volume(conn, storage_dir, f"{name}.qcow2", disk_gib)
    dom = conn.defineXML(domain_xml(name, vcpus, memory_mib, disk_path))
    recorder.log(f"Defined {name} on {hypervisor.name}")
    if start:
        dom.create()
        recorder.log(f"Started {name}")
    facts = driver.domain_facts(dom)
    vm = VirtualMachine.objects.create(
        uuid=facts.uuid, name=name, hypervisor=hypervisor, state=facts.state, vcpus=facts.vcpus,
        memory_mib=facts.memory_mib, disks=facts.disks, nics=facts.nics, role=role, last_seen=timezone.now(),
        state_changed_at=timezone.now(),
    )
    return {"vm": vm.name, "vm_id": vm.pk, "uuid": facts.uuid, "state": facts.state}


def _create_volume(conn, directory, filename, size_gib):
    """Create a qcow2 volume through a libvirt directory pool for `directory`."""
    pool = _directory_pool(conn, directory)
    volume_xml = (f"<volume><name>{escape(filename)}</name><capacity unit='GiB'>{int(size_gib)}</capacity>"
                  "<target><format type='qcow2'/></target></volume>")
    return pool.createXML(volume_xml, 0)


def _directory_pool(conn, directory):
    for pool in conn.listAllStoragePools(0):
        if f"<path>{directory}</path>" in pool.XMLDesc(0):
            if not pool.isActive():
                pool.create(0)
            pool.refresh(0)
            return pool
    name = "dir-" + uuidlib.uuid5(uuidlib.NAMESPACE_URL, directory).hex[:8]
    pool = conn.storagePoolDefineXML(
        f"<pool type='dir'><name>{name}</name><target><path>{escape(directory)}</path></target></pool>", 0
    )
    pool.create(0)
    pool.setAutostart(1)
    return pool
