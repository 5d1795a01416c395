"""Rehost a VM to EC2 by block replication through the EBS direct APIs (no import_image).

    replication = start_replication(account, DiskRef.for_vm(vm, "vda"), name="saturn")  # or for_host, for_image
    snapshot_id = replicate(replication, recorder)   # 1st call: every non-zero block; then only changes
    report = verify(replication, recorder)            # report.ok; against_source=True also re-reads the disk
    ami_id = register_image(replication)
    instance_id, private_ip = launch_instance(account, ami_id, "m5.large", subnet=…, security_group=…,
                                              key_name=…, tags={"Name": "saturn"})
    previous = upsert_dns(account, "example.com", "saturn", private_ip)   # the address before, or None
    stop_instance(account, instance_id); terminate_instance(account, instance_id)
    delete_dns(account, "example.com", "saturn")      # rollback of a name that did not exist before

How a pass works: the disk is read where it lives, through its disk source
(hypervisors.services.disk_sources: a VM's disk through libvirt, a physical host's device
over SSH, an image under a declared root), in 512 KiB blocks. The source offers the blocks
that may differ from the block map (the newest ReplicatedBlock row per index): with
changed-block tracking only those written since the last pass's checkpoint, with
source-side hashing only those whose SHA-256 on the host differs; holes are never read
and all-zero blocks are not sent. The worker checks each offered block's SHA-256 against
the map: the first pass sends every non-zero block into a new snapshot, later passes
send only blocks whose SHA-256 changed, or that became zero, into a child snapshot
(ParentSnapshotId = the previous one). Each pass is a ReplicationPass row: how the
changes were found, bytes read at the source, received, sent, blocks unchanged. Uploads run on a
bounded thread pool (settings OPSCONSOLE_CLOUD_REPLICATION_WORKERS) and each block is
retried with doubling backoff on network errors, timeouts, throttling and 5xx
(OPSCONSOLE_CLOUD_REPLICATION_RETRIES / _BACKOFF). Acknowledged blocks are written to the
block map as they come, so a pass that fails (network, quota, worker killed, cancelled)
leaves a pending snapshot and a block map that say exactly what AWS holds: the next
replicate() reuses that snapshot and sends only the rest.

Verification reads every block from the snapshot the block map names: real AWS child
snapshots also hold their parents' blocks, moto's do not; the block map is right on both.

Errors: cloud.drivers.aws.CloudError (AWS or the disk image, told in words; the
replication keeps state "failed" and last_error; a source that vanished mid-pass is the
code "source-gone", resumable once it is back); bad input to start_replication is a
django ValidationError with a field error on "disk". recorder is a
core.jobs.JobRecorder (or None): progress is bytes sent / total and MB/s; a cancel
request stops the pass (resumable, state "interrupted").
"""

import hashlib
import random
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import validation_sentence
from hypervisors.services import disk_sources
from hypervisors.services.disk_sources import DiskRef, DiskSourceError

from .. import conf
from ..drivers import aws, ebs, ec2, route53
from ..models import DiskReplication, ReplicatedBlock, ReplicationPass, ReplicationSnapshot
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
    """What one replicate() call did (also on replication.last_pass and a ReplicationPass row)."""
    snapshot_id: str = ""
    resumed: bool = False
    method: str = ""
    blocks_scanned: int = 0  # blocks the source offered
    bytes_scanned: int = 0  # read at the source
    bytes_received: int = 0  # from the source to this worker
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


def start_replication(account, ref, *, name=""):
    """A new DiskReplication of the disk `ref` names (a DiskRef; nothing sent yet). A disk
    that is not one of the workload's real disks is a ValidationError on "disk"."""
    choice = _checked(ref)
    fmt = choice.details.get("format") or DiskReplication.Format.RAW
    return DiskReplication.objects.create(
        account=account, name=name[:200], source_kind=ref.kind, source_vm=ref.vm, source_host=ref.host,
        source_disk=ref.disk, source_path=str(ref)[:1000],
        source_format=fmt if fmt in DiskReplication.Format.values else DiskReplication.Format.RAW,
        size_bytes=choice.size, block_size=BLOCK_SIZE)


def disk_problem(ref):
    """Why the disk `ref` names cannot be replicated, in a sentence; None when it can."""
    try:
        _checked(ref)
    except ValidationError as exc:
        return validation_sentence(exc)
    return None


def _checked(ref):
    try:
        return disk_sources.check_disk(ref)
    except DiskSourceError as exc:
        raise ValidationError({"disk": str(exc)}) from exc


def disk_ref(replication):
    """The DiskRef of the disk the replication reads."""
    return DiskRef(replication.source_kind, replication.source_disk, vm=replication.source_vm,
                   host=replication.source_host)


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
    stats = replication.last_pass = PassStats()
    started = time.monotonic()
    _claim(replication, take_over)
    record = ReplicationPass.objects.create(replication=replication)
    snapshot = None
    try:
        with disk_sources.open_source(disk_ref(replication), since=replication.source_checkpoint) as source:
            stats.method = source.stats.method
            _log(recorder, f"Reading {replication.source_path}: {source.stats.consistency or 'as it is'}; "
                           f"changes found by {source.stats.method or 'a full read'}")
            _discard_dead_snapshot(replication)
            pending = replication.snapshots.filter(state=ReplicationSnapshot.State.PENDING).first()
            stats.resumed = bool(pending and pending.snapshot_id)
            snapshot = _stream(source, replication, block_map(replication), pending, stats, recorder, workers)
            _take_source_stats(stats, source)
            if snapshot is not None:
                with aws.translated_errors(replication.account, "ebs CompleteSnapshot"):
                    ebs.complete_snapshot(replication.account, snapshot.snapshot_id, snapshot.blocks.count())
                snapshot.state, snapshot.completed_at = ReplicationSnapshot.State.COMPLETED, timezone.now()
                snapshot.save(update_fields=["state", "completed_at"])
            source.finished(ok=True)
            checkpoint = source.checkpoint
    except DiskSourceError as exc:
        message = f"{exc} The next replication resumes from the last block AWS acknowledged."
        _failed(replication, message, record, stats, started)
        raise aws.CloudError(message, code="source-gone" if exc.gone else "source",
                             operation="read the source disk") from exc
    except aws.CloudError as exc:
        _failed(replication, f"{exc} The next replication resumes from the last block AWS acknowledged.", record,
                stats, started)
        raise
    except BaseException as exc:  # cancelled, or a bug: still resumable
        _failed(replication, f"Interrupted ({exc.__class__.__name__}); the next replication resumes.", record,
                stats, started, state=DiskReplication.State.INTERRUPTED)
        raise
    DiskReplication.objects.filter(pk=replication.pk).update(source_checkpoint=checkpoint)
    replication.source_checkpoint = checkpoint
    if snapshot is None:
        _finish(replication, stats, started, recorder, record, ReplicationPass.Outcome.UNCHANGED,
                f"Nothing changed since the last snapshot ({_scanned(stats)})")
        return replication.latest_snapshot_id
    stats.snapshot_id = snapshot.snapshot_id
    _finish(replication, stats, started, recorder, record, ReplicationPass.Outcome.SENT,
            f"Snapshot {snapshot.snapshot_id} complete: {stats.blocks_sent} blocks ({stats.bytes_sent / MB:.1f} MB) "
            f"sent at {stats.mbps:.1f} MB/s, {stats.zero_blocks_skipped} zero and {stats.unchanged_blocks} "
            f"unchanged blocks skipped ({_scanned(stats)})", snapshot=snapshot)
    return snapshot.snapshot_id


def _scanned(stats):
    return (f"{stats.method}: {stats.bytes_scanned / MB:.1f} MB read at the source, "
            f"{stats.bytes_received / MB:.1f} MB received")


def _take_source_stats(stats, source):
    stats.method = source.stats.method
    stats.bytes_scanned, stats.bytes_received = source.stats.bytes_scanned, source.stats.bytes_received


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


class _Uploads:
    """The blocks of one pass on their way to AWS: a bounded pool of uploads, each
    acknowledged block written to the block map in batches (where a failed pass resumes)."""

    def __init__(self, replication, snapshot, stats, recorder, workers, progress):
        self.replication, self.snapshot, self.stats, self.recorder = replication, snapshot, stats, recorder
        self.workers = workers or conf.replication_workers()
        self.retries, self.backoff = conf.replication_retries()
        self.client = ebs.ebs_client(replication.account)
        self.pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="ebs-upload")
        self.in_flight, self.acked = set(), []
        self.already = snapshot.blocks.count()
        self.queued = 0  # blocks of this pass handed to the pool so far
        self.progress = progress
        self.started = self.last_flush = time.monotonic()

    def submit(self, index, data):
        self.queued += 1
        self.in_flight.add(self.pool.submit(_upload, self.replication.account, self.client,
                                            self.snapshot.snapshot_id, index, data, self.retries, self.backoff))
        if len(self.in_flight) >= 2 * self.workers:
            done, self.in_flight = wait(self.in_flight, return_when=FIRST_COMPLETED)
            self._collect(done, raise_first=True)
        if len(self.acked) >= FLUSH_BLOCKS or time.monotonic() - self.last_flush >= FLUSH_SECONDS:
            self.flush()

    def drain(self):
        done, self.in_flight = wait(self.in_flight), set()
        self._collect(done[0], raise_first=True)
        self.flush()

    def _collect(self, done, raise_first=False):
        errors = []
        for future in done:
            try:
                self.acked.append(future.result())
            except Exception as exc:  # the first one is raised once the others are in the map
                errors.append(exc)
        if errors and raise_first:
            self.flush()
            raise errors[0]

    def flush(self):
        stats, block_size = self.stats, self.replication.block_size
        if self.acked:
            ReplicatedBlock.objects.bulk_create(
                [ReplicatedBlock(snapshot=self.snapshot, index=index, sha256=digest) for index, digest in self.acked],
                update_conflicts=True, unique_fields=["snapshot", "index"], update_fields=["sha256"])
            stats.blocks_sent += len(self.acked)
            stats.bytes_sent += len(self.acked) * block_size
            self.acked.clear()
        stats.seconds = time.monotonic() - self.started
        DiskReplication.objects.filter(pk=self.replication.pk).update(
            bytes_sent=(self.already + stats.blocks_sent) * block_size, blocks_sent=self.already + stats.blocks_sent,
            bytes_total=(self.already + self.queued) * block_size, blocks_total=self.already + self.queued,
            throughput_mbps=round(stats.mbps, 2), updated_at=timezone.now())
        self.last_flush = time.monotonic()
        self.progress()

    def close(self):
        """Whatever stopped the pass, keep what AWS acknowledged: that is where the next one resumes."""
        for future in self.in_flight:
            future.cancel()
        self._collect(wait(self.in_flight)[0] if self.in_flight else ())
        self.pool.shutdown(wait=True)
        try:
            self.flush()
        except Exception:  # noqa: BLE001 — the flush's own progress may raise a cancel; the map is saved
            pass


def _stream(source, replication, current, pending, stats, recorder, workers):
    """Send every offered block whose SHA-256 the block map does not have (or that became
    zero). The snapshot is started with the first block to send; returns it, or the
    pending one when a resumed pass finds nothing more, or None when nothing changed."""
    block_size = replication.block_size
    uploads = None
    known = {index: digest for index, (_, digest) in current.items()}
    scan_total = max(source.size, 1)

    def progress():
        _take_source_stats(stats, source)
        _heartbeat(replication)
        done = min(stats.bytes_scanned, scan_total)
        _progress(recorder, 99 * done // scan_total,
                  f"Read {done / MB:.0f} of {scan_total / MB:.0f} MB at the source ({stats.method}); sent "
                  f"{stats.bytes_sent / MB:.1f} MB at {stats.mbps:.1f} MB/s")

    DiskReplication.objects.filter(pk=replication.pk).update(last_error="", bytes_total=0, bytes_sent=0,
                                                             blocks_total=0, blocks_sent=0)
    source.on_progress = progress
    try:
        for index, data in source.blocks(block_size, known):
            stats.blocks_scanned += 1
            if stats.blocks_scanned % HEARTBEAT_BLOCKS == 0:
                _heartbeat(replication)
            have = known.get(index)
            digest = ZERO_SHA if data == ZERO_BLOCK else hashlib.sha256(data).digest()
            if digest == ZERO_SHA and (have is None or have == ZERO_SHA):
                stats.zero_blocks_skipped += 1
                continue
            if have == digest:
                stats.unchanged_blocks += 1
                continue
            if uploads is None:
                uploads = _Uploads(replication, _new_snapshot(replication), stats, recorder, workers, progress)
                _log(recorder, f"{'Resuming' if uploads.already else 'Starting'} snapshot "
                               f"{uploads.snapshot.snapshot_id}"
                               + (f": {uploads.already} already acknowledged" if uploads.already else ""))
            uploads.submit(index, data)
        if uploads is not None:
            uploads.drain()
    finally:
        if uploads is not None:
            uploads.close()
    if uploads is not None:
        return uploads.snapshot
    return _new_snapshot(replication) if pending is not None else None


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


def _save_pass(record, stats, started, outcome, error="", snapshot=None):
    stats.seconds = stats.seconds or time.monotonic() - started
    ReplicationPass.objects.filter(pk=record.pk).update(
        outcome=outcome, method=stats.method, bytes_scanned=stats.bytes_scanned, bytes_received=stats.bytes_received,
        bytes_sent=stats.bytes_sent, blocks_sent=stats.blocks_sent, blocks_unchanged=stats.unchanged_blocks,
        zero_blocks_skipped=stats.zero_blocks_skipped, seconds=round(time.monotonic() - started, 3),
        error=error[:2000], snapshot=snapshot)


def _finish(replication, stats, started, recorder, record, outcome, message, snapshot=None):
    _save_pass(record, stats, started, outcome, snapshot=snapshot)
    DiskReplication.objects.filter(pk=replication.pk).update(
        state=DiskReplication.State.REPLICATED, last_error="", last_replicated_at=timezone.now(),
        updated_at=timezone.now(), **({"throughput_mbps": round(stats.mbps, 2)} if stats.bytes_sent else {}))
    replication.refresh_from_db()
    _log(recorder, message)
    _progress(recorder, 100, message)


def _failed(replication, message, record, stats, started, state=DiskReplication.State.FAILED):
    pending = replication.snapshots.filter(state=ReplicationSnapshot.State.PENDING).first()
    _save_pass(record, stats, started, ReplicationPass.Outcome.FAILED, error=message, snapshot=pending)
    DiskReplication.objects.filter(pk=replication.pk).update(state=state, last_error=message, updated_at=timezone.now())
    replication.refresh_from_db()


# --- verification ------------------------------------------------------------------------


def verify(replication, recorder=None, *, against_source=False, workers=None):
    """Read every block of the block map back from the snapshot that holds it and compare
    its SHA-256 with what was sent. against_source=True also re-reads the disk where it
    lives and checks that the block map covers it as it is now (use it once the workload is
    stopped). Returns a VerificationReport (report.ok); CloudError when AWS or the source
    cannot be read."""
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
    """Indexes where the disk, read afresh (no checkpoint: every allocated block), differs from the map."""
    known = {index: digest for index, (_, digest) in current.items()}
    differs = []
    try:
        with disk_sources.open_source(disk_ref(replication)) as source:
            offered = set()
            for index, data in source.blocks(replication.block_size, {}):
                offered.add(index)
                actual = ZERO_SHA if data == ZERO_BLOCK else hashlib.sha256(data).digest()
                if actual != known.get(index, ZERO_SHA):
                    differs.append(index)
    except DiskSourceError as exc:
        raise aws.CloudError(str(exc), code="source-gone" if exc.gone else "source",
                             operation="read the source disk") from exc
    differs += [i for i, digest in known.items() if i not in offered and digest != ZERO_SHA]
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
