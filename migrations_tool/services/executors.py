"""What each kind of run step does. Every executor is idempotent: it reads the step's
checkpoint, skips what is already done, and saves a checkpoint after each thing it
does, so it can run again after a worker died at any point.

    EXECUTORS[step.kind](step, recorder)   # recorder: steps.StepRecorder

Which steps a strategy takes (STEPS) and which an operator's action adds (ACTION_STEPS).
EC2 and RDS steps call cloud.services.replication and cloud.services.rds_replatform;
moves between hypervisors call hypervisors.services.migration.
"""

import ipaddress
import re

from cloud.models import DiskReplication
from cloud.services import rds_logical as logical
from cloud.services import rds_replatform as rds
from cloud.services import replication
from hypervisors.models import Hypervisor, VirtualMachine
from hypervisors.services import actions, migration, preflight
from inventory import services as inventory
from inventory.models import Host, JournalEntry

from ..models import PlannedWorkload, Strategy
from .checks import disk_ref_of
from .steps import save_checkpoint

# Steps a run starts with, per strategy; the source keeps running through all of them.
STEPS = {
    Strategy.REHOST_HYPERVISOR: ["migrate_vm"],
    Strategy.REHOST_EC2: ["replicate", "sync"],
    Strategy.REPLATFORM_RDS: ["create_database", "copy_data", "verify_data"],
}
# Steps an operator's action adds, per strategy.
ACTION_STEPS = {
    "sync": {Strategy.REHOST_EC2: ["sync"], Strategy.REPLATFORM_RDS: ["copy_data", "verify_data"]},
    "test_cutover": {Strategy.REHOST_EC2: ["test_cutover"]},
    "cutover": {Strategy.REHOST_EC2: ["cutover"], Strategy.REPLATFORM_RDS: ["db_cutover"]},
    "rollback": {Strategy.REHOST_EC2: ["rollback"], Strategy.REPLATFORM_RDS: ["db_rollback"],
                 Strategy.REHOST_HYPERVISOR: ["migrate_back"]},
    "finalize": {Strategy.REHOST_EC2: ["finalize"], Strategy.REPLATFORM_RDS: ["finalize"],
                 Strategy.REHOST_HYPERVISOR: ["finalize"]},
}
TITLES = {
    "migrate_vm": "Move to the target hypervisor", "migrate_back": "Move back to the source hypervisor",
    "replicate": "Replicate the disk (initial)", "sync": "Send changed blocks", "test_cutover": "Test cutover",
    "cutover": "Cutover", "rollback": "Roll back", "create_database": "Create the RDS instance",
    "copy_data": "Copy the data", "verify_data": "Verify the data", "db_cutover": "Cut over the database",
    "db_rollback": "Point back to the source database", "finalize": "Finalize (keep the new home, no way back)",
}
# Statuses a workload reaches when a step of this kind is done.
STATUS_AFTER = {
    "migrate_vm": PlannedWorkload.Status.MIGRATED, "sync": PlannedWorkload.Status.READY_FOR_CUTOVER,
    "verify_data": PlannedWorkload.Status.READY_FOR_CUTOVER, "cutover": PlannedWorkload.Status.MIGRATED,
    "db_cutover": PlannedWorkload.Status.MIGRATED, "rollback": PlannedWorkload.Status.ROLLED_BACK,
    "db_rollback": PlannedWorkload.Status.ROLLED_BACK, "migrate_back": PlannedWorkload.Status.ROLLED_BACK,
    "finalize": PlannedWorkload.Status.FINALIZED,
}


RDS_TIMEOUT_S = 1800


class StepError(Exception):
    """A step cannot go on; the message says why and what state things are in."""


def _set_status(workload, status, **fields):
    PlannedWorkload.objects.filter(pk=workload.pk).update(status=status, **fields)


def _journal(workload, text):
    """A line in the inventory host's journal (the host itself, or the VM's host record)."""
    host_id = _inventory_host_id(workload)
    if host_id:
        JournalEntry.objects.create(host_id=host_id, kind=JournalEntry.Kind.SYSTEM, text=text)


def _inventory_host_id(workload):
    return workload.host_id or VirtualMachine.objects.filter(pk=workload.vm_id).values_list(
        "inventory_host_id", flat=True).first()


def _record_cloud_move(step, recorder, cloud_instance_id, text):
    """Inventory: the VM and its host record point at the cloud instance, the host's
    status becomes migrated."""
    workload = step.workload
    if workload.vm_id:
        VirtualMachine.objects.filter(pk=workload.vm_id).update(cloud_instance_id=cloud_instance_id)
    host_id = _inventory_host_id(workload)
    if host_id is not None:
        inventory.record_cloud_move(Host(pk=host_id), cloud_instance_id, user=recorder.job.created_by, reason=text)


def _undo_cloud_move(step, recorder, text):
    """Inventory after a rollback: no cloud instance, the host active again."""
    workload = step.workload
    if workload.vm_id:
        VirtualMachine.objects.filter(pk=workload.vm_id).update(cloud_instance_id="")
    host_id = _inventory_host_id(workload)
    if host_id is not None:
        inventory.undo_cloud_move(Host(pk=host_id), user=recorder.job.created_by, reason=text)


def _vm(workload):
    return VirtualMachine.objects.select_related("hypervisor__host").get(pk=workload.vm_id)


def _other_step(step, kind, states=("done",)):
    """The latest step of `kind` of the same workload and run in one of `states` (its checkpoint)."""
    return step.run.steps.filter(workload=step.workload, kind=kind, state__in=states).order_by("-position").first()


# What a rollback undoes: whatever a cutover did, finished or not (its checkpoint says).
TRIED = ("done", "failed", "cancelled", "pending")


# --- between hypervisors --------------------------------------------------------------------


def migrate_vm(step, recorder, back=False):
    workload = step.workload
    vm = _vm(workload)
    point = step.checkpoint
    if back:
        move = _other_step(step, "migrate_vm", TRIED)
        if move is None or "source_id" not in move.checkpoint:
            recorder.progress(100, f"{vm.name} was not moved by this run: nothing to move back")
            return {"hypervisor": vm.hypervisor.name if vm.hypervisor_id else None}
        target = Hypervisor.objects.select_related("host").get(pk=move.checkpoint["source_id"])
    elif "target_id" in point:
        target = Hypervisor.objects.select_related("host").get(pk=point["target_id"])
    else:
        target, _live = preflight.plan_migration(vm, workload.target_hypervisor)
        save_checkpoint(step, source_id=vm.hypervisor_id, target_id=target.pk)
    if vm.hypervisor_id == target.pk:  # done already (the worker died after libvirt moved it)
        recorder.log(f"{vm.name} already runs on {target.name}")
    else:
        live = vm.state == VirtualMachine.State.RUNNING
        recorder.log(f"{'Live' if live else 'Cold'} migration of {vm.name} to {target.name}")
        move = migration.live_migrate if live else migration.cold_migrate
        move(vm, target, recorder.job, recorder)
    if not back:
        _journal(workload, f"Migration plan {workload.plan.name}: moved to hypervisor {target.name}")
    recorder.progress(100, f"{vm.name} runs on {target.name}")
    return {"hypervisor": target.name}


def migrate_back(step, recorder):
    return migrate_vm(step, recorder, back=True)


# --- to EC2, by block replication -----------------------------------------------------------


def _disk_ref(workload):
    ref = disk_ref_of(workload)
    if ref is None:
        raise StepError(f"{workload.name}: no disk chosen to replicate; choose one in the plan.")
    return ref


def _replication_of(step, recorder, watch=True):
    """The workload's DiskReplication: the one this run started (checkpoint), else a new one.
    With `watch`, the step's bytes and throughput follow its passes."""
    workload, account = step.workload, step.workload.plan.account
    first = step if "replication_id" in step.checkpoint else _other_step(step, "replicate") or step
    replication_id = first.checkpoint.get("replication_id")
    if replication_id:
        found = DiskReplication.objects.select_related("account").get(pk=replication_id)
    else:
        found = replication.start_replication(account, _disk_ref(workload), name=workload.name)
        save_checkpoint(step, replication_id=found.pk)
    if watch:
        recorder.watch = lambda: _bytes_of(found)
    return found


def _bytes_of(found):
    """(sent, to send, bytes/s) of the replication's current pass, as its acknowledged blocks say."""
    sent, total, mbps = DiskReplication.objects.filter(pk=found.pk).values_list(
        "bytes_sent", "bytes_total", "throughput_mbps").get()
    return sent, total, int(mbps * 1_000_000)


def _resumed(step):
    """A step run again after its worker died: the pass it left claimed is ours to take over
    (only the run's current job drives its steps, see steps.StepRecorder.check_cancel)."""
    return step.attempts > 1


def replicate(step, recorder):
    """The first full copy (or the next delta, when the run is resumed); the source runs."""
    found = _replication_of(step, recorder)
    if "snapshot_id" not in step.checkpoint:
        snapshot_id = replication.replicate(found, recorder, take_over=_resumed(step))
        save_checkpoint(step, snapshot_id=snapshot_id)
    if not step.checkpoint.get("verified"):
        report = replication.verify(found, recorder)
        if not report.ok:
            raise StepError(f"Verification found {len(report.mismatched)} blocks that differ and {len(report.missing)} "
                            f"missing: run the step again to resend them.")
        save_checkpoint(step, verified=True)
    _set_status(step.workload, PlannedWorkload.Status.MIGRATING)
    return {"snapshot_id": step.checkpoint["snapshot_id"]}


def sync(step, recorder):
    """Send the blocks changed since the last snapshot (an incremental snapshot)."""
    found = _replication_of(step, recorder)
    if "snapshot_id" not in step.checkpoint:
        save_checkpoint(step, snapshot_id=replication.replicate(found, recorder, take_over=_resumed(step)))
    return {"snapshot_id": step.checkpoint["snapshot_id"]}


def _launch(step, recorder, test):
    """Register an AMI of the replication's latest snapshot and launch it (checkpointed)."""
    workload, plan = step.workload, step.workload.plan
    found = _replication_of(step, recorder, watch=False)
    if "ami_id" not in step.checkpoint:
        save_checkpoint(step, ami_id=replication.register_image(found))
        recorder.log(f"Registered {step.checkpoint['ami_id']}")
    if "instance_id" not in step.checkpoint:
        tags = {"Name": f"{workload.name}{'-test' if test else ''}", "opsconsole:plan": plan.name,
                "opsconsole:purpose": "test" if test else "cutover"}
        instance_id, private_ip = replication.launch_instance(
            plan.account, step.checkpoint["ami_id"], workload.instance_type, subnet=plan.subnet or None,
            security_group=plan.security_group or None, key_name=plan.key_pair or None, tags=tags)
        save_checkpoint(step, instance_id=instance_id, private_ip=private_ip)
        recorder.log(f"Launched {instance_id} ({workload.instance_type}) at {private_ip}")
    return step.checkpoint["instance_id"], step.checkpoint["private_ip"]


def _point_dns(step, recorder, address):
    """Point the workload's DNS name at `address`, remembering what it pointed at."""
    workload, plan = step.workload, step.workload.plan
    if not (plan.dns_zone and workload.dns_name) or step.checkpoint.get("dns_set"):
        return
    previous = replication.upsert_dns(plan.account, plan.dns_zone, workload.dns_name, address)
    save_checkpoint(step, dns_set=True, dns_previous=previous or "")
    recorder.log(f"{workload.dns_name}.{plan.dns_zone} now points at {address} (was {previous or 'unset'})")


def _restore_dns(step, recorder, point):
    """Undo _point_dns: the previous address again, or no record when there was none."""
    workload, plan = step.workload, step.workload.plan
    if not point.get("dns_set") or step.checkpoint.get("dns_restored"):
        return
    if point.get("dns_previous"):
        replication.upsert_dns(plan.account, plan.dns_zone, workload.dns_name, point["dns_previous"])
        recorder.log(f"{workload.dns_name}.{plan.dns_zone} points at {point['dns_previous']} again")
    else:
        replication.delete_dns(plan.account, plan.dns_zone, workload.dns_name)
        recorder.log(f"{workload.dns_name}.{plan.dns_zone} removed (it did not exist before the cutover)")
    save_checkpoint(step, dns_restored=True)


def test_cutover(step, recorder):
    """Launch a copy from the latest snapshot; the source is not touched."""
    recorder.progress(10, "Launching a test instance")
    instance_id, address = _launch(step, recorder, test=True)
    recorder.progress(100, f"Test instance {instance_id} at {address}: check it, then cut over")
    return {"instance_id": instance_id, "private_ip": address}


def _terminate_test_instances(step, recorder):
    for test in step.run.steps.filter(workload=step.workload, kind="test_cutover", state="done"):
        instance_id = test.checkpoint.get("instance_id")
        if instance_id and not test.checkpoint.get("terminated"):
            replication.terminate_instance(step.workload.plan.account, instance_id)
            save_checkpoint(test, terminated=True)
            recorder.log(f"Terminated test instance {instance_id}")


def cutover(step, recorder):
    """Shut the source down, send the last delta, launch, point the inventory and DNS at it."""
    workload, plan = step.workload, step.workload.plan
    _terminate_test_instances(step, recorder)
    if workload.vm_id and not step.checkpoint.get("source_stopped"):
        vm = _vm(workload)
        save_checkpoint(step, source_hypervisor_id=vm.hypervisor_id)
        if vm.state == VirtualMachine.State.RUNNING:
            recorder.progress(10, f"Shutting {vm.name} down")
            actions.power_action(vm, "shutdown", recorder.job, recorder)
        save_checkpoint(step, source_stopped=True)
    elif workload.host_id and not step.checkpoint.get("source_stopped"):
        recorder.log("A physical host: stop its services before the last delta (it is not powered off by us)")
        save_checkpoint(step, source_stopped=True)
    found = _replication_of(step, recorder)
    if "final_snapshot_id" not in step.checkpoint:
        recorder.progress(30, "Sending the last changed blocks")
        save_checkpoint(step, final_snapshot_id=replication.replicate(found, recorder, take_over=_resumed(step)))
    recorder.progress(70, "Launching the instance")
    instance_id, address = _launch(step, recorder, test=False)
    _point_dns(step, recorder, address)
    _set_status(workload, PlannedWorkload.Status.MIGRATED, cloud_instance_id=instance_id, cloud_address=address)
    _record_cloud_move(step, recorder, instance_id,
                       f"Migration plan {plan.name}: cut over to EC2 instance {instance_id} ({address})")
    recorder.progress(100, f"Cut over to {instance_id}")
    return {"instance_id": instance_id, "private_ip": address}


def rollback(step, recorder):
    """Stop and terminate the instance, restore DNS, start the VM where it was."""
    workload, plan = step.workload, step.workload.plan
    _terminate_test_instances(step, recorder)
    tried = _other_step(step, "cutover", TRIED)
    point = tried.checkpoint if tried else {}
    instance_id = point.get("instance_id")
    if instance_id and not step.checkpoint.get("terminated"):
        replication.stop_instance(plan.account, instance_id)
        replication.terminate_instance(plan.account, instance_id)
        save_checkpoint(step, terminated=True)
        recorder.log(f"Stopped and terminated {instance_id}")
    _restore_dns(step, recorder, point)
    if workload.vm_id:
        vm = _vm(workload)
        if vm.state != VirtualMachine.State.RUNNING:
            actions.power_action(vm, "start", recorder.job, recorder)
            recorder.log(f"Started {vm.name} again on {vm.hypervisor.name if vm.hypervisor_id else '?'}")
    _set_status(workload, PlannedWorkload.Status.ROLLED_BACK, cloud_instance_id="", cloud_address="")
    _undo_cloud_move(step, recorder, f"Migration plan {plan.name}: rolled back from EC2; the source runs again")
    recorder.progress(100, "Rolled back: the source runs")
    return {"terminated": instance_id}


# --- databases to RDS --------------------------------------------------------------------------


def _identifier(workload):
    """An RDS identifier of the plan and workload: letters, digits and single hyphens."""
    text = re.sub(r"[^a-z0-9]+", "-", f"mig{workload.plan_id}-{workload.name}".lower())
    return text[:63].strip("-")


def create_database(step, recorder):
    workload, account = step.workload, step.workload.plan.account
    identifier = step.checkpoint.get("identifier") or _identifier(workload)
    if not step.checkpoint.get("created"):
        # A source that does not answer could not be copied: create nothing for it.
        problem = rds.source_problem(workload.source_dsn, workload.engine)
        if problem:
            raise StepError(f"{problem} Nothing was created in the cloud.")
        # Recorded before asking AWS, so whatever the call leaves is known: the failure
        # says so and the rollback deletes it.
        save_checkpoint(step, identifier=identifier)
        _journal(workload, f"Migration plan {workload.plan.name}: RDS instance {identifier} created for "
                           f"{workload.name} in {account}; a rollback deletes it")
        rds.create_instance(account, identifier, workload.rds_class, workload.engine, max(20, workload.storage_gb),
                            multi_az=workload.multi_az, tags={"opsconsole:plan": workload.plan.name})
        save_checkpoint(step, created=True)
        recorder.log(f"Creating RDS instance {identifier} ({workload.rds_class}, {workload.engine})")
    recorder.progress(50, "Waiting for the instance to be available")
    rds.wait_available(account, identifier, RDS_TIMEOUT_S, recorder=recorder)
    recorder.progress(100, f"{identifier} is available")
    _set_status(workload, PlannedWorkload.Status.MIGRATING)
    return {"identifier": identifier}


def _target_dsn(step):
    made = _other_step(step, "create_database")
    if made is None:
        raise StepError(f"{step.workload.name}: the RDS instance was not created by this run.")
    return rds.endpoint_dsn(step.workload.plan.account, made.checkpoint["identifier"])


# How long the cutover waits for the subscription's last changes, and verify_data for the
# changes up to its own reading of the source (seconds).
CATCH_UP_TIMEOUT_S = 900


def _replication_name(step):
    """The publication, subscription and slot of this run's database: one per RDS instance."""
    identifier = _other_step(step, "create_database").checkpoint["identifier"]
    return ("opsconsole_" + identifier.replace("-", "_"))[:63]


def _copy_mode(step):
    """The copy_data step that chose the mode (logical or dump) of this run's copy, or None."""
    return step.run.steps.filter(workload=step.workload, kind="copy_data", checkpoint__has_key="mode").exclude(
        pk=step.pk).order_by("position").first()


def _choose_copy_mode(step, recorder):
    """Logical replication when the source can (only the last changes wait for the cutover),
    else pg_dump | pg_restore; a run keeps the mode its first copy chose."""
    earlier = _copy_mode(step)
    if earlier is not None:
        mode, reason = earlier.checkpoint["mode"], f"as the first copy of this run: {earlier.checkpoint['mode_reason']}"
    else:
        support = logical.supports_logical_replication(step.workload.source_dsn, _replication_name(step))
        mode, reason = ("logical" if support.ok else "dump"), support.reason
    save_checkpoint(step, mode=mode, mode_reason=reason, replication=_replication_name(step))
    recorder.log(f"Copy by {'logical replication' if mode == 'logical' else 'pg_dump and pg_restore'}: {reason}")


def _is_logical(step):
    found = _copy_mode(step)
    return found is not None and found.checkpoint["mode"] == "logical"


def copy_data(step, recorder):
    if "mode" not in step.checkpoint:
        _choose_copy_mode(step, recorder)
    source, target = step.workload.source_dsn, _target_dsn(step)
    if step.checkpoint["mode"] == "logical":
        report = logical.start_logical_replication(source, target, step.checkpoint["replication"], recorder)
    else:
        report = rds.copy_data(source, target, recorder)
    return {"mode": step.checkpoint["mode"],
            "copied": report if isinstance(report, (dict, list, str, int)) else str(report)}


def verify_data(step, recorder):
    """Dump mode: the copy must match. Logical mode, while the source is written: once the
    target has caught up with the source's figures, a table that differs only fails when
    the source did not change it meanwhile (see logical.verify_live); the cutover checks
    again with the source read-only."""
    source, target = step.workload.source_dsn, _target_dsn(step)
    if _is_logical(step):
        report = logical.verify_live(source, target, _replication_name(step), recorder, timeout=CATCH_UP_TIMEOUT_S)
        if report.get("written_meanwhile"):
            recorder.log(f"Written during the check, compared again at cutover: "
                         f"{', '.join(report['written_meanwhile'])}")
    else:
        report = rds.verify(source, target)
    ok = report.get("ok", True) if isinstance(report, dict) else bool(report)
    if not ok:
        raise StepError(f"The copy differs from the source: {differences(report)}")
    recorder.log(f"Verified: {report}")
    return {"report": report if isinstance(report, dict) else str(report)}


def db_cutover(step, recorder):
    """Source read-only, then the last changes (logical mode: wait for the subscription and
    end it) or a last full copy (dump mode), a check, then DNS to the RDS endpoint."""
    workload, plan = step.workload, step.workload.plan
    target = _target_dsn(step)
    if not step.checkpoint.get("source_read_only"):
        rds.set_read_only(workload.source_dsn, True, terminate_sessions=True)
        save_checkpoint(step, source_read_only=True)
        recorder.log("The source database is read-only")
    if _is_logical(step):
        if not step.checkpoint.get("replication_finished"):
            logical.finish_logical_replication(workload.source_dsn, target, _replication_name(step), recorder,
                                           timeout=CATCH_UP_TIMEOUT_S)
            save_checkpoint(step, replication_finished=True)
    elif not step.checkpoint.get("copied"):
        rds.copy_data(workload.source_dsn, target, recorder)
        save_checkpoint(step, copied=True)
    report = rds.verify(workload.source_dsn, target)
    if isinstance(report, dict) and not report.get("ok", True):
        raise StepError(f"The last copy differs from the source: {differences(report)}")
    endpoint = _other_step(step, "create_database").checkpoint["identifier"]
    host = _endpoint_host(target)
    if _is_address(host):
        _point_dns(step, recorder, host)
    elif plan.dns_zone and workload.dns_name:
        recorder.log(f"{host} is a name, not an address: point {workload.dns_name}.{plan.dns_zone} at it with a CNAME")
    _set_status(workload, PlannedWorkload.Status.MIGRATED, cloud_instance_id=endpoint, cloud_address=_endpoint_host(target))
    _record_cloud_move(step, recorder, endpoint,
                       f"Migration plan {plan.name}: database cut over to RDS {endpoint}; source kept read-only")
    recorder.progress(100, f"Cut over to RDS {endpoint}")
    return {"identifier": endpoint}


def _endpoint_host(dsn):
    from psycopg.conninfo import conninfo_to_dict

    return conninfo_to_dict(dsn).get("host") or ""


def _is_address(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def differences(report):
    """A verification report ({"tables", "missing_in_target", "extra_in_target"}) in words."""
    if not isinstance(report, dict):
        return str(report)
    parts = [f"{t['table']} ({t['source_rows']} rows in the source, {t['target_rows']} in the copy)"
             for t in report.get("tables", []) if not t.get("match", True)]
    said = [f"tables that differ: {', '.join(parts)}"] if parts else []
    if report.get("missing_in_target"):
        said.append(f"missing in the copy: {', '.join(report['missing_in_target'])}")
    if report.get("extra_in_target"):
        said.append(f"only in the copy: {', '.join(report['extra_in_target'])}")
    return "; ".join(said) + "." if said else "the figures do not match."


def left_in_cloud(step):
    """What this run created in the cloud for the step's workload and no rollback removed
    yet, in words (for the message of a failed step)."""
    made = _other_step(step, "create_database", TRIED)
    identifier = made.checkpoint.get("identifier") if made else None
    if not identifier or _other_step(step, "db_rollback"):
        return []
    return [f"RDS instance {identifier} (and its database)"]


def db_rollback(step, recorder):
    """Point back to the source (writable again when a cutover made it read-only) and
    delete the RDS instance this run created: the source has the data."""
    workload, plan = step.workload, step.workload.plan
    tried = _other_step(step, "db_cutover", TRIED)
    point = tried.checkpoint if tried else {}
    _restore_dns(step, recorder, point)
    if _is_logical(step) and not step.checkpoint.get("replication_stopped"):
        logical.stop_logical_replication(workload.source_dsn, _target_dsn(step), _replication_name(step), recorder)
        save_checkpoint(step, replication_stopped=True)
    if tried is not None:  # only a cutover makes the source read-only (and one that failed may have)
        rds.set_read_only(workload.source_dsn, False)
    made = _other_step(step, "create_database", TRIED)
    identifier = made.checkpoint.get("identifier") if made else None
    if identifier and not step.checkpoint.get("instance_deleted"):
        rds.delete_instance(plan.account, identifier)
        save_checkpoint(step, instance_deleted=True)
        recorder.log(f"Deleted RDS instance {identifier} and its database")
        _journal(workload, f"Migration plan {plan.name}: RDS instance {identifier} deleted (rolled back)")
    _set_status(workload, PlannedWorkload.Status.ROLLED_BACK, cloud_instance_id="", cloud_address="")
    _undo_cloud_move(step, recorder, f"Migration plan {plan.name}: database pointed back to the source (writable again)")
    recorder.progress(100, "Pointed back to the source database")
    return {"rolled_back": True}


# --- finalizing ------------------------------------------------------------------------------


def finalize(step, recorder):
    """The move is kept: test instances go, rollback is no longer offered. The source is
    left as the cutover left it (a VM shut off, a database read-only) for the team to
    decommission. The replication's snapshots and test images go too (AWS bills for
    them); the AMI the instance was launched from, and its snapshot, stay."""
    workload, plan = step.workload, step.workload.plan
    if workload.strategy == Strategy.REHOST_EC2:
        _terminate_test_instances(step, recorder)
        cutover = _other_step(step, "cutover")
        if cutover is not None and not step.checkpoint.get("cleaned_up"):
            images, snapshots = replication.clean_up(_replication_of(step, recorder, watch=False),
                                                     cutover.checkpoint.get("ami_id"))
            save_checkpoint(step, cleaned_up=True)
            recorder.log(f"Deleted {snapshots} replication snapshots and {images} test images; kept "
                         f"{cutover.checkpoint.get('ami_id')}, the image {workload.name} was launched from")
    _journal(workload, f"Migration plan {plan.name}: finalized; the source can be decommissioned")
    recorder.progress(100, "Finalized: the source can be decommissioned")
    return {"finalized": True}


EXECUTORS = {
    "migrate_vm": migrate_vm, "migrate_back": migrate_back, "replicate": replicate, "sync": sync,
    "test_cutover": test_cutover, "cutover": cutover, "rollback": rollback, "create_database": create_database,
    "copy_data": copy_data, "verify_data": verify_data, "db_cutover": db_cutover, "db_rollback": db_rollback,
    "finalize": finalize,
}
