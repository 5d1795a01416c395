"""Live and cold migration of one VM, watched through libvirt's job statistics."""

import threading
import time
from dataclasses import dataclass
from urllib.parse import urlparse

from django.utils import timezone

from ..drivers import libvirt_driver as driver
from ..drivers.libvirt_driver import libvirt
from ..models import Hypervisor, VirtualMachine
from . import disk_copy
from .locks import vm_lock


class MigrationRefused(Exception):
    """The migration was not attempted: the message says why; nothing changed."""


class MigrationFailed(Exception):
    """The migration was attempted and failed; the message says where the VM runs now."""


@dataclass
class MigrationOptions:
    auto_converge: bool = False
    bandwidth_mib_s: int = 0  # 0 = unlimited
    time_limit_s: int = 600
    poll_interval_s: float = 0.5


def migration_flags(source: Hypervisor, target: Hypervisor, options: MigrationOptions, live=True):
    flags = libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
    if live:
        flags |= libvirt.VIR_MIGRATE_LIVE
    if options.auto_converge:
        flags |= libvirt.VIR_MIGRATE_AUTO_CONVERGE
    if source.shared_storage and target.shared_storage:
        # Both ends mount the same storage, which libvirt cannot detect on a plain directory.
        flags |= libvirt.VIR_MIGRATE_UNSAFE
    return flags


def migration_uri(target: Hypervisor):
    """Where the source QEMU sends memory: the target's address as the URI names it."""
    host = urlparse(target.uri).hostname or "127.0.0.1"
    return f"tcp://{host}"


def check_migration(vm: VirtualMachine, target: Hypervisor, live=True):
    if vm.hypervisor_id is None:
        raise MigrationRefused(f"{vm.name} has no known hypervisor; sync first")
    if target.pk == vm.hypervisor_id:
        raise MigrationRefused(f"{vm.name} already runs on {target.name}")
    if not target.enabled:
        raise MigrationRefused(f"{target.name} is disabled")
    if target.host.status not in ("active", "spare"):
        raise MigrationRefused(f"{target.name} is {target.host.status}; only active or spare hypervisors take VMs")
    if live and vm.state != VirtualMachine.State.RUNNING:
        raise MigrationRefused(f"{vm.name} is {vm.state}; live migration needs a running VM (use cold migration)")
    if not live and vm.state != VirtualMachine.State.SHUTOFF:
        raise MigrationRefused(f"{vm.name} is {vm.state}; cold migration needs a shut-off VM")


def live_migrate(vm: VirtualMachine, target: Hypervisor, job, recorder, options=None):
    """Move a running VM to `target` without stopping it. On any failure the VM is
    still running on its source (checked with libvirt) and the error says so."""
    options = options or MigrationOptions()
    check_migration(vm, target, live=True)
    source = vm.hypervisor
    with vm_lock(vm, job):
        src_conn = driver.connect(source.uri)
        dst_conn = driver.connect(target.uri)
        dom = driver.lookup(src_conn, vm.uuid)
        if dom is None or not dom.isActive():
            raise MigrationRefused(f"libvirt on {source.name} does not run {vm.name}; sync and try again")
        recorder.log(f"Live-migrating {vm.name} from {source.name} to {target.name}")
        outcome = _run_watched(dom, dst_conn, migration_flags(source, target, options), target, options, recorder)
        _confirm_landing(vm, source, target, src_conn, dst_conn, outcome, recorder)
    return {"vm": vm.name, "from": source.name, "to": target.name, **outcome["stats"]}


def _run_watched(dom, dst_conn, flags, target, options, recorder):
    """Start the migration in a thread and report its progress until it ends."""
    params = {libvirt.VIR_MIGRATE_PARAM_URI: migration_uri(target)}
    if options.bandwidth_mib_s:
        params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = int(options.bandwidth_mib_s)
    outcome = {"error": None, "aborted": None, "stats": {}}

    def migrate():
        try:
            dom.migrate3(dst_conn, params, flags)
        except libvirt.libvirtError as exc:
            outcome["error"] = str(exc)

    worker = threading.Thread(target=migrate, name="migrate", daemon=True)
    started = time.monotonic()
    worker.start()
    while worker.is_alive():
        worker.join(options.poll_interval_s)
        if not worker.is_alive():
            break
        stats = _job_stats(dom)
        if stats:
            outcome["stats"] = stats
            recorder.progress(stats["percent"], _describe(stats), check_cancel=False)
        if outcome["aborted"] is None:
            if _cancel_requested(recorder):
                outcome["aborted"] = "cancelled by an operator"
            elif time.monotonic() - started > options.time_limit_s:
                outcome["aborted"] = f"time limit of {options.time_limit_s} s reached"
            if outcome["aborted"]:
                recorder.log(f"Aborting the libvirt migration job: {outcome['aborted']}")
                try:
                    dom.abortJob()
                except libvirt.libvirtError as exc:
                    recorder.log(f"abortJob: {exc}")
    outcome["stats"]["seconds"] = round(time.monotonic() - started, 2)
    return outcome


def _job_stats(dom):
    try:
        stats = dom.jobStats()
    except libvirt.libvirtError:
        return None
    if not stats or stats.get("type", 0) == libvirt.VIR_DOMAIN_JOB_NONE:
        return None
    total = stats.get("memory_total") or stats.get("data_total") or 0
    remaining = stats.get("memory_remaining", stats.get("data_remaining", 0))
    processed = stats.get("memory_processed", stats.get("data_processed", 0))
    percent = int(100 * (total - remaining) / total) if total else 0
    return {
        "percent": min(percent, 99),
        "data_processed": processed,
        "data_remaining": remaining,
        "data_total": total,
        "dirty_rate_pages_s": stats.get("memory_dirty_rate", 0),
        "iteration": stats.get("memory_iteration", 0),
    }


def _describe(stats):
    mib = 1024 * 1024
    return (f"{stats['data_processed'] // mib} MiB sent, {stats['data_remaining'] // mib} MiB left, "
            f"dirty rate {stats['dirty_rate_pages_s']} pages/s, pass {stats['iteration']}")


def _cancel_requested(recorder):
    from core.jobs import JobCancelled

    try:
        recorder.check_cancel()
    except JobCancelled:
        return True
    return False


def _confirm_landing(vm, source, target, src_conn, dst_conn, outcome, recorder):
    """Ask libvirt (not our records) where the VM runs now, and record that."""
    target_running = _running_on(dst_conn, target, vm)
    source_running = _running_on(src_conn, source, vm)
    now = timezone.now()
    if target_running and not source_running and not outcome["error"] and not outcome["aborted"]:
        VirtualMachine.objects.filter(pk=vm.pk).update(
            hypervisor=target, state=VirtualMachine.State.RUNNING, last_seen=now, state_changed_at=now
        )
        recorder.log(f"{vm.name} runs on {target.name} and nowhere else (checked with libvirt)")
        return
    why = outcome["aborted"] or outcome["error"] or "libvirt reported success but the VM is not where expected"
    if source_running:
        VirtualMachine.objects.filter(pk=vm.pk).update(hypervisor=source, state=VirtualMachine.State.RUNNING,
                                                       last_seen=now)
        raise MigrationFailed(f"Migration of {vm.name} failed ({why}); it is still running on {source.name}")
    if target_running:
        VirtualMachine.objects.filter(pk=vm.pk).update(hypervisor=target, state=VirtualMachine.State.RUNNING,
                                                       last_seen=now, state_changed_at=now)
        raise MigrationFailed(f"Migration of {vm.name} reported '{why}' but it runs on {target.name}")
    raise MigrationFailed(f"Migration of {vm.name} failed ({why}) and it runs on neither host: check it now")


def _running_on(conn, hypervisor, vm):
    """Whether libvirt on `hypervisor` runs the VM; a connection that died (the host
    went away mid-migration) answers no, and is dropped from the cache."""
    try:
        dom = driver.lookup(conn, vm.uuid)
        return dom is not None and bool(dom.isActive())
    except libvirt.libvirtError:
        driver.forget(hypervisor.uri)
        return False


def cold_migrate(vm: VirtualMachine, target: Hypervisor, job, recorder):
    """Move a shut-off VM: copy its local disks to the target over SSH and verify them
    (disks on shared storage stay), define it on the target, then undefine it on the
    source (in that order, so it is never defined nowhere). On any failure it stays
    defined on the source and the copies on the target are removed."""
    check_migration(vm, target, live=False)
    source = vm.hypervisor
    with vm_lock(vm, job):
        src_conn = driver.connect(source.uri)
        dst_conn = driver.connect(target.uri)
        dom = driver.lookup(src_conn, vm.uuid)
        if dom is None:
            raise MigrationRefused(f"libvirt on {source.name} does not know {vm.name}; sync and try again")
        if dom.isActive():
            raise MigrationRefused(f"{vm.name} is running on {source.name}; shut it down first or live-migrate")
        xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE | libvirt.VIR_DOMAIN_XML_SECURE)
        local = local_disk_paths(driver.parse_devices(xml)[0], source, target)
        move = _copy_local_disks(vm, source, target, local, recorder) if local else None
        try:
            _redefine(vm, dom, xml, source, target, dst_conn, move, recorder)
        finally:
            if move is not None:
                move.close()
        now = timezone.now()
        VirtualMachine.objects.filter(pk=vm.pk).update(hypervisor=target, last_seen=now)
        recorder.log(f"{vm.name} is defined on {target.name} (shut off) and no longer on {source.name}")
    return {"vm": vm.name, "from": source.name, "to": target.name, "disks_copied": local}


def local_disk_paths(disks, source: Hypervisor, target: Hypervisor):
    """The disks ({"path": …} as parsed from the domain) not on storage both hypervisors share: copied."""
    return [d["path"] for d in disks if d.get("path") and not (source.shares_disk(d["path"])
                                                              and target.shares_disk(d["path"]))]


def check_local_disk_copy(vm: VirtualMachine, target: Hypervisor):
    """Refuse at once (from our records of its disks) a cold migration whose local disks
    could not be copied: no SSH credential or no trusted host key on either end."""
    if local_disk_paths(vm.disks, vm.hypervisor, target):
        try:
            disk_copy.ssh_login(vm.hypervisor)
            disk_copy.ssh_login(target)
        except disk_copy.DiskCopyRefused as exc:
            raise MigrationRefused(f"{vm.name} has local disks to copy, but {exc}") from exc


def _copy_local_disks(vm, source, target, paths, recorder):
    """Copied and verified under temporary names on the target, or an exception (and nothing left there)."""
    try:
        move = disk_copy.DiskMove(source, target, paths, recorder)
    except disk_copy.DiskCopyRefused as exc:
        raise MigrationRefused(f"{vm.name} has local disks to copy, but {exc}") from exc
    try:
        move.check()
        move.copy_and_verify()
    except disk_copy.DiskCopyRefused as exc:
        move.close()
        raise MigrationRefused(str(exc)) from exc
    except Exception as exc:  # failed, cancelled or crashed: nothing of ours stays on the target
        move.discard()
        move.close()
        if isinstance(exc, disk_copy.DiskCopyFailed):
            raise MigrationFailed(f"Cold migration of {vm.name} failed ({exc}); it stays on {source.name}") from exc
        raise
    return move


def _redefine(vm, dom, xml, source, target, dst_conn, move, recorder):
    """Define on the target, undefine on the source; undo on the target whatever fails."""
    try:
        if move is not None:
            move.commit()
        recorder.progress(90, f"Defining {vm.name} on {target.name}", check_cancel=False)
        new_dom = dst_conn.defineXML(xml)
    except Exception as exc:
        if move is not None:
            move.discard()
        raise MigrationFailed(f"Defining {vm.name} on {target.name} failed ({exc}); it stays on {source.name}") from exc
    recorder.progress(95, f"Undefining {vm.name} on {source.name}", check_cancel=False)
    try:
        dom.undefine()
    except libvirt.libvirtError as exc:
        new_dom.undefine()
        if move is not None:
            move.discard()
        raise MigrationFailed(f"Undefining {vm.name} on {source.name} failed ({exc}); "
                              f"it stays on {source.name}") from exc
    if move is not None:
        move.remove_sources()
