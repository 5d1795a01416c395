"""Rehost a VM to EC2 by block replication through the EBS direct APIs (no import_image).

    replication = start_replication(account, "/var/lib/libvirt/images/saturn.qcow2", name="saturn")
    snapshot_id = replicate(replication, recorder)   # 1st call: every non-zero block; then only changes
    report = verify(replication, recorder)            # report.ok; against_source=True also re-reads the disk
    ami_id = register_image(replication)
    instance_id, private_ip = launch_instance(account, ami_id, "m5.large", subnet=…, security_group=…,
                                              key_name=…, tags={"Name": "saturn"})
    previous = upsert_dns(account, "example.com", "saturn", private_ip)   # the address before, or None
    stop_instance(account, instance_id); terminate_instance(account, instance_id)
    delete_dns(account, "example.com", "saturn")      # rollback of a name that did not exist before

How a pass works: the disk (raw as is; qcow2 and the rest converted to a sparse raw copy
with `qemu-img convert`) is cut into 512 KiB blocks. Holes are not read, all-zero blocks
are not sent. Each block's SHA-256 is compared with the block map (the newest
ReplicatedBlock row per index): the first pass sends every non-zero block into a new
snapshot, later passes send only blocks whose SHA-256 changed, or that became zero or
non-zero, into a child snapshot (ParentSnapshotId = the previous one). Uploads run on a
bounded thread pool (settings OPSCONSOLE_CLOUD_REPLICATION_WORKERS) and each block is
retried with doubling backoff on network errors, timeouts, throttling and 5xx
(OPSCONSOLE_CLOUD_REPLICATION_RETRIES / _BACKOFF). Acknowledged blocks are written to the
block map as they come, so a pass that fails (network, quota, worker killed, cancelled)
leaves a pending snapshot and a block map that say exactly what AWS holds: the next
replicate() reuses that snapshot and sends only the rest.

Verification reads every block from the snapshot the block map names: real AWS child
snapshots also hold their parents' blocks, moto's do not; the block map is right on both.

Errors: cloud.drivers.aws.CloudError (AWS or the disk image, told in words; the
replication keeps state "failed" and last_error); bad input to start_replication is a
django ValidationError with field errors (disk_path, source_format). recorder is a
core.jobs.JobRecorder (or None): progress is bytes sent / total and MB/s; a cancel
request stops the pass (resumable, state "interrupted").
"""

import hashlib
import random
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import validation_sentence

from .. import conf
from ..drivers import aws, disk_image, ebs, ec2, route53
from ..models import DiskReplication, ReplicatedBlock, ReplicationSnapshot
from .recording import log as _log
from .recording import progress as _progress

BLOCK_SIZE = ebs.BLOCK_SIZE
ZERO_BLOCK = bytes(BLOCK_SIZE)
ZERO_SHA = hashlib.sha256(ZERO_BLOCK).digest()
FLUSH_BLOCKS = 64  # block map rows written per batch…
FLUSH_SECONDS = 1.0  # …or at least this often
MB = 1_000_000
HEARTBEAT_BLOCKS = 2048  # while scanning, say "alive" every GiB read


@dataclass
class PassStats:
    """What one replicate() call did (also on replication.last_pass)."""
    snapshot_id: str = ""
    resumed: bool = False
    blocks_scanned: int = 0
    blocks_sent: int = 0
    bytes_sent: int = 0
    zero_blocks_skipped: int = 0
    unchanged_blocks: int = 0
    seconds: float = 0.0

    @property
    def mbps(self):
        return self.bytes_sent / MB / self.seconds if self.seconds else 0.0


@dataclass
class VerificationReport:
    ok: bool = True
    blocks_checked: int = 0
    bytes_read: int = 0
    mismatched: list = field(default_factory=list)  # block indexes whose data is not what was sent
    missing: list = field(default_factory=list)  # block indexes the snapshot does not hold
    source_differs: list = field(default_factory=list)  # against_source: indexes the disk has changed since
    seconds: float = 0.0

    def as_dict(self):
        report = asdict(self)
        for key in ("mismatched", "missing", "source_differs"):
            report[key] = report[key][:100]
        return report


# --- starting ------------------------------------------------------------------------


def start_replication(account, disk_path, *, source_format=None, name=""):
    """A new DiskReplication of the disk image at disk_path (nothing sent yet).
    source_format: "raw" or "qcow2", or None to let qemu-img tell."""
    fmt, size = _readable_image(disk_path, source_format)
    return DiskReplication.objects.create(account=account, name=name[:200], source_path=str(disk_path),
                                          source_format=fmt, size_bytes=size, block_size=BLOCK_SIZE)


def disk_problem(disk_path, source_format=None):
    """Why the disk image at disk_path cannot be replicated, in a sentence; None when it can."""
    try:
        _readable_image(disk_path, source_format)
    except ValidationError as exc:
        return validation_sentence(exc)
    return None


def _readable_image(disk_path, source_format):
    """(format, size) of an image replication can read, else a ValidationError by field."""
    try:
        detected, size = disk_image.inspect(disk_path)
    except disk_image.DiskImageError as exc:
        raise ValidationError({"disk_path": str(exc)}) from exc
    fmt = source_format or detected
    if fmt not in DiskReplication.Format.values:
        raise ValidationError({"source_format": f"The image at {disk_path} is {fmt}; replication reads "
                                                f"{' and '.join(DiskReplication.Format.values)} images."})
    if source_format and source_format != detected:
        raise ValidationError({"source_format": f"The image at {disk_path} is {detected}, not {source_format}."})
    return fmt, size


def block_map(replication):
    """{block index: (snapshot id, sha256 bytes)}: where each block's newest copy is."""
    rows = (ReplicatedBlock.objects.filter(snapshot__replication=replication)
            .order_by("snapshot__generation").values_list("index", "snapshot__snapshot_id", "sha256"))
    return {index: (snapshot_id, bytes(digest)) for index, snapshot_id, digest in rows}


# --- one pass --------------------------------------------------------------------------


def replicate(replication, recorder=None, *, workers=None, take_over=False):
    """Send what the cloud does not have yet; returns the id of the snapshot that now
    holds the whole disk (the last one when nothing changed). See the module docstring.

    One pass at a time per replication: a pass that another worker is running (it
    showed progress less than OPSCONSOLE_CLOUD_REPLICATION_STALE_AFTER seconds ago) is
    a CloudError, code "busy"; pass
    take_over=True when that worker is known to be dead (its Job failed)."""
    account = replication.account
    stats = replication.last_pass = PassStats()
    started = time.monotonic()
    _claim(replication, take_over)
    try:
        with disk_image.raw_image(replication.source_path, replication.source_format, _workdir()) as raw, \
                open(raw, "rb") as disk:
            _discard_dead_snapshot(replication)
            current = block_map(replication)
            to_send = _changed_blocks(disk.fileno(), replication, current, stats)
            pending = replication.snapshots.filter(state=ReplicationSnapshot.State.PENDING).first()
            if not to_send and pending is None:
                _finish(replication, stats, started, recorder, "Nothing changed since the last snapshot")
                return replication.latest_snapshot_id
            stats.resumed = bool(pending and pending.snapshot_id)
            snapshot = _new_snapshot(replication)  # the pending one when there is one
            stats.snapshot_id = snapshot.snapshot_id
            _send(disk.fileno(), replication, snapshot, to_send, stats, recorder, workers)
        with aws.translated_errors(account, "ebs CompleteSnapshot"):
            ebs.complete_snapshot(account, snapshot.snapshot_id, snapshot.blocks.count())
        snapshot.state, snapshot.completed_at = ReplicationSnapshot.State.COMPLETED, timezone.now()
        snapshot.save(update_fields=["state", "completed_at"])
    except disk_image.DiskImageError as exc:
        _failed(replication, str(exc))
        raise aws.CloudError(str(exc), code="disk-image", operation="read the disk image") from exc
    except aws.CloudError as exc:
        _failed(replication, f"{exc} The next replication resumes from the last block AWS acknowledged.")
        raise
    except BaseException as exc:  # cancelled, or a bug: still resumable
        _failed(replication, f"Interrupted ({exc.__class__.__name__}); the next replication resumes.",
                state=DiskReplication.State.INTERRUPTED)
        raise
    _finish(replication, stats, started, recorder,
            f"Snapshot {snapshot.snapshot_id} complete: {stats.blocks_sent} blocks ({stats.bytes_sent / MB:.1f} MB) "
            f"sent at {stats.mbps:.1f} MB/s, {stats.zero_blocks_skipped} zero and {stats.unchanged_blocks} "
            f"unchanged blocks skipped")
    return snapshot.snapshot_id


def _claim(replication, take_over):
    now = timezone.now()
    free = ~Q(state=DiskReplication.State.REPLICATING) | Q(updated_at__lt=now - timedelta(seconds=conf.replication_stale_after()))
    claimed = DiskReplication.objects.filter(Q(pk=replication.pk) & (Q() if take_over else free)).update(
        state=DiskReplication.State.REPLICATING, updated_at=now)
    if not claimed:
        replication.refresh_from_db()
        raise aws.CloudError(
            f"{replication} is being replicated by another worker (last progress at "
            f"{replication.updated_at:%H:%M:%S}): wait for it, or take over if that worker is dead.",
            code="busy", operation="replicate")


def _heartbeat(replication):
    DiskReplication.objects.filter(pk=replication.pk).update(updated_at=timezone.now())


def _workdir():
    return Path(settings.VAR_DIR) / "cloud" / "replication"


def _changed_blocks(fd, replication, current, stats):
    """Indexes of the blocks to send: non-zero blocks whose SHA-256 the block map does not
    have, and blocks that became zero. Holes are zero without being read."""
    size, block_size = replication.size_bytes, replication.block_size
    data_indexes = disk_image.data_blocks(fd, size, block_size)
    to_send = []
    for index in data_indexes:
        data = disk_image.read_block(fd, index, block_size, size)
        stats.blocks_scanned += 1
        if stats.blocks_scanned % HEARTBEAT_BLOCKS == 0:
            _heartbeat(replication)
        known = current.get(index)
        if data == ZERO_BLOCK:
            if known and known[1] != ZERO_SHA:
                to_send.append(index)  # became zero: the child snapshot would keep the parent's data
            else:
                stats.zero_blocks_skipped += 1
        elif known is None or known[1] != hashlib.sha256(data).digest():
            to_send.append(index)
        else:
            stats.unchanged_blocks += 1
    scanned = set(data_indexes)
    to_send += [i for i, (_, digest) in current.items() if i not in scanned and digest != ZERO_SHA]
    return sorted(to_send)


def _discard_dead_snapshot(replication):
    """A pending snapshot AWS gave up on (state error, or gone: StartSnapshot's timeout
    passed) cannot be resumed: forget it and its blocks, the pass starts over."""
    pending = replication.snapshots.filter(state=ReplicationSnapshot.State.PENDING).first()
    if pending is None or not pending.snapshot_id:
        return
    try:
        with aws.translated_errors(replication.account, "ec2 DescribeSnapshots"):
            found = ec2.ec2_client(replication.account).describe_snapshots(
                SnapshotIds=[pending.snapshot_id])["Snapshots"]
    except aws.CloudError as exc:
        if exc.code != "InvalidSnapshot.NotFound":
            raise
        found = []
    if not found or found[0].get("State") == "error":
        pending.delete()


def _new_snapshot(replication):
    """The pending snapshot of the replication; started (a child of the last completed
    one) when there is none or AWS has not given it an id yet."""
    last = replication.snapshots.filter(state=ReplicationSnapshot.State.COMPLETED).order_by("generation").last()
    with transaction.atomic():
        pending = replication.snapshots.filter(state=ReplicationSnapshot.State.PENDING).first()
        if pending is None:
            pending = ReplicationSnapshot.objects.create(
                replication=replication, generation=(last.generation + 1) if last else 1,
                snapshot_id="", parent_snapshot_id=last.snapshot_id if last else "")
    if not pending.snapshot_id:
        # Row first, then AWS, with a token naming the row: a crash in between gets the same snapshot.
        pending.snapshot_id = ebs.start_snapshot(
            replication.account, ebs.volume_size_gib(replication.size_bytes),
            parent_snapshot_id=pending.parent_snapshot_id or None,
            description=f"opsconsole replication of {replication}"[:255],
            tags={"opsconsole:replication": replication.pk, "opsconsole:generation": pending.generation},
            client_token=f"opsconsole-replication-{replication.pk}-{pending.pk}",
        )
        pending.save(update_fields=["snapshot_id"])
    return pending


def _send(fd, replication, snapshot, to_send, stats, recorder, workers):
    """Upload the blocks on a bounded pool, writing each acknowledged block to the map."""
    account, size, block_size = replication.account, replication.size_bytes, replication.block_size
    workers = workers or conf.replication_workers()
    retries, backoff = conf.replication_retries()
    already = snapshot.blocks.count()
    total_bytes = (already + len(to_send)) * block_size
    DiskReplication.objects.filter(pk=replication.pk).update(
        state=DiskReplication.State.REPLICATING, last_error="", bytes_total=total_bytes,
        bytes_sent=already * block_size, blocks_total=already + len(to_send), blocks_sent=already)
    _log(recorder, f"{'Resuming' if already else 'Starting'} snapshot {snapshot.snapshot_id}: "
                   f"{len(to_send)} blocks ({len(to_send) * block_size / MB:.1f} MB) to send"
                   + (f", {already} already acknowledged" if already else ""))
    client = ebs.ebs_client(account)
    acked, last_flush, started = [], time.monotonic(), time.monotonic()

    def flush():
        nonlocal last_flush
        if acked:
            ReplicatedBlock.objects.bulk_create(
                [ReplicatedBlock(snapshot=snapshot, index=index, sha256=digest) for index, digest in acked],
                update_conflicts=True, unique_fields=["snapshot", "index"], update_fields=["sha256"])
            stats.blocks_sent += len(acked)
            stats.bytes_sent += len(acked) * block_size
            acked.clear()
        stats.seconds = time.monotonic() - started
        sent = already * block_size + stats.bytes_sent
        DiskReplication.objects.filter(pk=replication.pk).update(
            bytes_sent=sent, blocks_sent=already + stats.blocks_sent, throughput_mbps=round(stats.mbps, 2),
            updated_at=timezone.now())
        last_flush = time.monotonic()
        _progress(recorder, 99 * sent // total_bytes if total_bytes else 99,
                  f"Sent {sent / MB:.1f} of {total_bytes / MB:.1f} MB at {stats.mbps:.1f} MB/s")

    def collect(done):
        errors = []
        for future in done:
            try:
                acked.append(future.result())
            except Exception as exc:  # the first one is raised once the others are in the map
                errors.append(exc)
        return errors

    in_flight = set()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ebs-upload") as pool:
        try:
            for index in to_send:
                data = disk_image.read_block(fd, index, block_size, size)
                in_flight.add(pool.submit(_upload, account, client, snapshot.snapshot_id, index, data,
                                          retries, backoff))
                if len(in_flight) >= 2 * workers:
                    done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    errors = collect(done)
                    if errors:
                        raise errors[0]
                if len(acked) >= FLUSH_BLOCKS or time.monotonic() - last_flush >= FLUSH_SECONDS:
                    flush()
            done, in_flight = wait(in_flight), set()
            errors = collect(done[0])
            if errors:
                raise errors[0]
        finally:
            # Whatever stopped the pass, keep what AWS acknowledged: that is where the next one resumes.
            for future in in_flight:
                future.cancel()
            collect(wait(in_flight)[0] if in_flight else ())
            try:
                flush()
            except Exception:  # noqa: BLE001 — the flush's own progress may raise a cancel; the map is saved
                pass


def _upload(account, client, snapshot_id, index, data, retries, backoff):
    digest = hashlib.sha256(data).digest()
    checksum = ebs.encoded(digest)
    for attempt in range(retries + 1):
        try:
            ebs.put_snapshot_block(account, snapshot_id, index, data, checksum_b64=checksum, client=client)
            return index, digest
        except aws.CloudError as exc:
            if not ebs.is_transient(exc):
                raise
            if attempt == retries:
                raise aws.CloudError(
                    f"Network error sending block {index} to {aws.where(account)}, {retries + 1} attempts: {exc}",
                    code=exc.code if exc.code != "error" else "network", operation=exc.operation) from exc
            time.sleep(backoff * (2 ** attempt) * random.uniform(0.5, 1.0))  # noqa: S311 — jitter, not crypto


def _finish(replication, stats, started, recorder, message):
    stats.seconds = stats.seconds or time.monotonic() - started
    DiskReplication.objects.filter(pk=replication.pk).update(
        state=DiskReplication.State.REPLICATED, last_error="", last_replicated_at=timezone.now(),
        updated_at=timezone.now(), **({"throughput_mbps": round(stats.mbps, 2)} if stats.bytes_sent else {}))
    replication.refresh_from_db()
    _log(recorder, message)
    _progress(recorder, 100, message)


def _failed(replication, message, state=DiskReplication.State.FAILED):
    DiskReplication.objects.filter(pk=replication.pk).update(state=state, last_error=message, updated_at=timezone.now())
    replication.refresh_from_db()


# --- verification ------------------------------------------------------------------------


def verify(replication, recorder=None, *, against_source=False, workers=None):
    """Read every block of the block map back from the snapshot that holds it and compare
    its SHA-256 with what was sent. against_source=True also re-reads the disk and
    checks that the block map covers it as it is now (use it once the VM is stopped).
    Returns a VerificationReport (report.ok); CloudError when AWS cannot be read."""
    account, started = replication.account, time.monotonic()
    report = VerificationReport()
    current = block_map(replication)
    by_snapshot = {}
    for index, (snapshot_id, digest) in current.items():
        by_snapshot.setdefault(snapshot_id, []).append((index, digest))
    client = ebs.ebs_client(account)
    total, done = len(current), 0
    _log(recorder, f"Verifying {total} blocks in {len(by_snapshot)} snapshot(s)")
    with ThreadPoolExecutor(max_workers=workers or conf.replication_workers(), thread_name_prefix="ebs-verify") as pool:
        for snapshot_id, blocks in by_snapshot.items():
            tokens = ebs.list_snapshot_blocks(account, snapshot_id, client=client)
            futures = {}
            for index, digest in blocks:
                if index not in tokens:
                    report.missing.append(index)
                    continue
                futures[pool.submit(ebs.get_snapshot_block, account, snapshot_id, index, tokens[index],
                                    client=client)] = (index, digest)
            for future in futures:
                index, digest = futures[future]
                data = future.result()
                report.blocks_checked += 1
                report.bytes_read += len(data)
                if hashlib.sha256(data).digest() != digest:
                    report.mismatched.append(index)
                done += 1
                if done % FLUSH_BLOCKS == 0:
                    _progress(recorder, 95 * done // max(total, 1), f"Verified {done} of {total} blocks")
    if against_source:
        report.source_differs = _source_differences(replication, current)
    report.ok = not (report.missing or report.mismatched or report.source_differs)
    report.seconds = round(time.monotonic() - started, 3)
    message = (f"Verified {report.blocks_checked} blocks ({report.bytes_read / MB:.1f} MB): "
               + ("all match" if report.ok else f"{len(report.mismatched)} differ, {len(report.missing)} missing, "
                                                 f"{len(report.source_differs)} changed on the source since"))
    _log(recorder, message)
    _progress(recorder, 100, message)
    return report


def _source_differences(replication, current):
    size, block_size = replication.size_bytes, replication.block_size
    differs = []
    try:
        with disk_image.raw_image(replication.source_path, replication.source_format, _workdir()) as raw, \
                open(raw, "rb") as disk:
            data_indexes = disk_image.data_blocks(disk.fileno(), size, block_size)
            for index in data_indexes:
                data = disk_image.read_block(disk.fileno(), index, block_size, size)
                expected = current.get(index, (None, ZERO_SHA))[1]
                actual = ZERO_SHA if data == ZERO_BLOCK else hashlib.sha256(data).digest()
                if actual != expected:
                    differs.append(index)
    except disk_image.DiskImageError as exc:
        raise aws.CloudError(str(exc), code="disk-image", operation="read the disk image") from exc
    scanned = set(data_indexes)
    differs += [i for i, (_, digest) in current.items() if i not in scanned and digest != ZERO_SHA]
    return sorted(differs)


# --- image, instance, DNS ----------------------------------------------------------------


def register_image(replication):
    """An AMI from the replication's newest completed snapshot (the same one again when
    it was already registered: retrying the step is safe). Returns its id."""
    snapshot_id = replication.latest_snapshot_id
    if not snapshot_id:
        raise aws.CloudError(f"{replication} has no completed snapshot yet: replicate it first.",
                             code="not-replicated", operation="ec2 RegisterImage")
    account = replication.account
    name = f"opsconsole-{replication.pk}-{snapshot_id}"
    ec2.wait_snapshot_completed(account, snapshot_id)
    ami_id = ec2.find_image(account, name) or ec2.register_image(
        account, name, snapshot_id, ebs.volume_size_gib(replication.size_bytes),
        description=f"Replicated from {replication.source_path}"[:255])
    DiskReplication.objects.filter(pk=replication.pk).update(ami_id=ami_id)
    replication.ami_id = ami_id
    return ami_id


def clean_up(replication, keep_ami_id):
    """After a cutover that is kept: deregister the replication's other AMIs (test
    cutovers) and delete every snapshot but the one keep_ami_id was made from (the image
    to launch again from). Safe to repeat. Returns (AMIs deregistered, snapshots deleted)."""
    account, prefix = replication.account, f"opsconsole-{replication.pk}-"
    images = ec2.images_named(account, prefix)
    kept_snapshot = images.get(keep_ami_id, "").removeprefix(prefix) if keep_ami_id else ""
    others = [ami_id for ami_id in images if ami_id != keep_ami_id]
    for ami_id in others:
        ec2.deregister_image(account, ami_id)
    doomed = list(replication.snapshots.filter(state=ReplicationSnapshot.State.COMPLETED)
                  .exclude(snapshot_id=kept_snapshot))
    for snapshot in doomed:
        ec2.delete_snapshot(account, snapshot.snapshot_id)
        ReplicationSnapshot.objects.filter(pk=snapshot.pk).update(state=ReplicationSnapshot.State.DELETED)
    return len(others), len(doomed)


def launch_instance(account, ami_id, instance_type, *, subnet=None, security_group=None, key_name=None, tags=None):
    """Launch one instance of the AMI; subnet / security_group / key_name default to the
    account's defaults (ids or names). Returns (instance id, private IP address)."""
    instance = ec2.run_instance(
        account, ami_id, instance_type, subnet=subnet or account.default_subnet or None,
        security_group=security_group or account.default_security_group or None,
        key_name=key_name or account.default_key_pair or None, tags=tags)
    return instance["InstanceId"], instance.get("PrivateIpAddress", "")


def stop_instance(account, instance_id):
    ec2.stop_instance(account, instance_id)


def terminate_instance(account, instance_id):
    ec2.terminate_instance(account, instance_id)


def upsert_dns(account, zone_name, record_name, address):
    """Point the A record at address (Route 53, TTL 60); returns the address it had, or None."""
    return route53.upsert_a_record(account, zone_name, record_name, address)


def delete_dns(account, zone_name, record_name):
    """Remove the A record (rolling back a name upsert_dns created); returns its address or None."""
    return route53.delete_a_record(account, zone_name, record_name)
