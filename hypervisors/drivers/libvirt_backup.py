"""libvirt's backup and checkpoint calls: a running domain's disk exported read-only
over NBD (a pull-mode backup) and the checkpoints (QEMU dirty bitmaps) that say which
blocks changed since an earlier one. XML is built with an XML library, so a name or a
path stays data. Every libvirt error becomes LibvirtFailure (or HypervisorUnreachable
when the connection itself failed).
"""

import xml.etree.ElementTree as ET

import libvirt

from .libvirt_driver import HypervisorUnreachable, LibvirtFailure, connect, lookup

CONNECTION_ERRORS = (libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_ERR_RPC, libvirt.VIR_ERR_NO_CONNECT,
                     libvirt.VIR_ERR_INVALID_CONN)


def _failure(exc):
    if exc.get_error_code() in CONNECTION_ERRORS:
        return HypervisorUnreachable(exc.get_error_message() or str(exc))
    return LibvirtFailure(exc.get_error_message() or str(exc))


def domain(uri, uuid, fresh=False):
    """The domain with this UUID on the hypervisor at uri, or None."""
    try:
        return lookup(connect(uri, fresh=fresh), uuid)
    except libvirt.libvirtError as exc:
        raise _failure(exc) from exc


def is_active(dom):
    try:
        return bool(dom.isActive())
    except libvirt.libvirtError as exc:
        raise _failure(exc) from exc


def disks(dom):
    """[{target, type, path, format}] of the domain's disks (device 'disk' only), from its live XML."""
    try:
        root = ET.fromstring(dom.XMLDesc(0))
    except libvirt.libvirtError as exc:
        raise _failure(exc) from exc
    found = []
    for disk in root.findall("./devices/disk"):
        if disk.get("device", "disk") != "disk":
            continue
        target, source, driver = disk.find("target"), disk.find("source"), disk.find("driver")
        if target is None or not target.get("dev"):
            continue
        path = ""
        if source is not None:
            path = source.get("file") or source.get("dev") or source.get("name") or ""
        found.append({"target": target.get("dev"), "type": disk.get("type", "file"), "path": path,
                      "format": driver.get("type", "raw") if driver is not None else "raw"})
    return found


def block_info(dom, target):
    """(capacity, allocation, physical) in bytes, as libvirt reports them."""
    try:
        capacity, allocation, physical = dom.blockInfo(target, 0)
    except libvirt.libvirtError as exc:
        raise _failure(exc) from exc
    return capacity, allocation, physical


def backup_xml(target, socket_path, scratch_path, incremental=""):
    backup = ET.Element("domainbackup", mode="pull")
    if incremental:
        ET.SubElement(backup, "incremental").text = incremental
    ET.SubElement(backup, "server", transport="unix", socket=socket_path)
    disks_element = ET.SubElement(backup, "disks")
    disk = ET.SubElement(disks_element, "disk", name=target, backup="yes", type="file")
    ET.SubElement(disk, "scratch", file=scratch_path)
    return ET.tostring(backup, encoding="unicode")


def checkpoint_xml(name, target, description=""):
    checkpoint = ET.Element("domaincheckpoint")
    ET.SubElement(checkpoint, "name").text = name
    if description:
        ET.SubElement(checkpoint, "description").text = description
    disks_element = ET.SubElement(checkpoint, "disks")
    ET.SubElement(disks_element, "disk", name=target, checkpoint="bitmap")
    return ET.tostring(checkpoint, encoding="unicode")


def begin_backup(dom, target, socket_path, scratch_path, incremental="", checkpoint="", description=""):
    """Start a pull-mode backup of one disk, exported on socket_path (export name: target);
    with checkpoint, a new checkpoint of that name is taken at the same instant."""
    backup = backup_xml(target, socket_path, scratch_path, incremental)
    created = checkpoint_xml(checkpoint, target, description) if checkpoint else None
    try:
        dom.backupBegin(backup, created, 0)
    except libvirt.libvirtError as exc:
        raise _failure(exc) from exc


def current_backup(dom):
    """The running backup job as {socket, disks: {target: {exportname, exportbitmap, ...}}}, or None."""
    try:
        text = dom.backupGetXMLDesc(0)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() in (libvirt.VIR_ERR_NO_DOMAIN_BACKUP, libvirt.VIR_ERR_OPERATION_INVALID):
            return None
        raise _failure(exc) from exc
    root = ET.fromstring(text)
    server = root.find("server")
    return {
        "socket": server.get("socket", "") if server is not None else "",
        "disks": {disk.get("name"): dict(disk.attrib) for disk in root.findall("./disks/disk")},
        "scratch": [s.get("file") for s in root.findall("./disks/disk/scratch") if s.get("file")],
    }


def abort_backup(dom):
    """End the running backup job (True), or nothing was running (False)."""
    if current_backup(dom) is None:
        return False
    try:
        dom.abortJob()
    except libvirt.libvirtError as exc:
        if current_backup(dom) is None:
            return True
        raise _failure(exc) from exc
    return True


def checkpoints(dom):
    """[{name, created, disks: [targets with a bitmap]}] of the domain's checkpoints."""
    try:
        found = dom.listAllCheckpoints(0)
        result = []
        for checkpoint in found:
            root = ET.fromstring(checkpoint.getXMLDesc(0))
            result.append({
                "name": checkpoint.getName(),
                "created": int(root.findtext("creationTime") or 0),
                "disks": [d.get("name") for d in root.findall("./disks/disk") if d.get("checkpoint") == "bitmap"],
            })
    except libvirt.libvirtError as exc:
        raise _failure(exc) from exc
    return result


def has_checkpoint(dom, name):
    try:
        dom.checkpointLookupByName(name, 0)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_CHECKPOINT:
            return False
        raise _failure(exc) from exc
    return True


def delete_checkpoint(dom, name):
    """Delete one checkpoint (its bitmap); False when it did not exist."""
    try:
        dom.checkpointLookupByName(name, 0).delete(0)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_CHECKPOINT:
            return False
        raise _failure(exc) from exc
    return True
