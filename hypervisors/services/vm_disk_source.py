"""The "vm" disk source: a VM's disk read where it lives, on its hypervisor, through
libvirt and NBD, with changed-block tracking.

    choices = available_disks(vm)                  # from the domain's live XML and blockInfo
    with open_source(DiskRef.for_vm(vm, "vda"), since=last_checkpoint) as source:
        for index, data in source.blocks(BLOCK, known): ...
        source.finished(ok=True)                   # source.checkpoint is the next pass's since

How the disk is reached, and why
--------------------------------
The NBD export is reachable by nothing but this reader. It is a Unix socket on the
hypervisor, in a 0700 directory of ours inside libvirt's own /var/lib/libvirt/qemu (owned
by the user QEMU runs as), and it is reached only through our SSH connection to the
hypervisor (access.drivers.openssh: the host key an admin trusted, nothing else; the
socket is forwarded over the one master connection). No TCP NBD port is ever opened:
an NBD port would need TLS certificates distributed to every hypervisor and worker to be
anything but open to the network, while the SSH trust already exists, is managed on the
health page, and a changed host key stops the read before a byte moves.

Running VM: one libvirt pull-mode backup per pass (a point-in-time view: QEMU keeps the
blocks the guest overwrites meanwhile in a scratch file next to the socket).
- qcow2: the pass takes a new checkpoint (a QEMU dirty bitmap) named opsconsole-<time>-<tag>
  at the instant the view is frozen; `source.checkpoint` is its name. `since`, the
  checkpoint of the last completed pass, makes the pass incremental when the domain still
  has it: the export then carries qemu:dirty-bitmap:backup-<disk> and blocks() yields only
  the blocks that intersect dirty extents (Method.CBT; a dirty block that became zero is
  yielded as zeros). Without it (first pass, or the checkpoint is gone, which the
  consistency sentence says) blocks() yields every block touching allocated extents, plus
  zeros for the known non-zero blocks that lie in holes now (Method.ALLOCATION).
  finished(ok=True) keeps the new checkpoint and deletes the older opsconsole checkpoints of
  that disk (each one is a bitmap QEMU updates on every guest write); finished(ok=False)
  deletes the new one, so the chain stays at `since`.
- raw: no dirty bitmap is possible; the backup takes no checkpoint (Method.ALLOCATION).
Shut-off VM: `qemu-nbd --read-only --shared=1` on the hypervisor, on a socket in a 0700
temporary directory, started over the SSH connection and tied to it (it is killed when our
end of the session closes, whatever killed it). The image is read as the guest sees it (a
qcow2 is not converted or copied). With `since` still a consistent bitmap in the qcow2
(`qemu-img info`), it is exported too (-B): Method.CBT, and `source.checkpoint` stays
`since` (no checkpoint can be taken while the VM is off). Otherwise Method.ALLOCATION.

close() always ends what the pass holds on the hypervisor, whatever happened: the NBD
connection, the tunnel, the backup job (abortJob), our socket directory and scratch file,
qemu-nbd. If the hypervisor cannot be reached then, the next pass of the VM ends the
backup job it left first. A source that vanishes mid-read (powered off, partitioned)
raises DiskSourceError(gone=True): libnbd requests time out after nbd_reader.TIMEOUT
seconds without progress, and OpenSSH's keepalives (ServerAliveInterval=5, CountMax=3)
drop the tunnel.
"""

import bisect
import json
import logging
import os
import selectors
import subprocess
import time
import uuid
from contextlib import ExitStack

from access.drivers.openssh import OpenSSH
from access.drivers.ssh import SSHFailure

from ..drivers import libvirt_backup as backup
from ..drivers.libvirt_driver import HypervisorUnreachable, LibvirtFailure
from ..drivers.nbd_reader import (
    BASE_ALLOCATION,
    DIRTY,
    HOLE,
    MAX_READ,
    ZERO,
    NBDFailure,
    NBDGone,
    NBDReader,
    dirty_bitmap_context,
)
from .disk_sources import DiskChoice, DiskSource, DiskSourceError, Method, blocks_of, pad, zero_sha
from .hypervisor_login import DiskCopyRefused, ssh_login

logger = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "opsconsole-"
LIBVIRT_DIR = "/var/lib/libvirt/qemu"
READY_TIMEOUT = 60  # seconds for qemu-nbd to put its socket up
CLEANUP_TIMEOUT = 30

# Serves one image read-only on a socket in a fresh 0700 directory, prints the socket's path,
# and lives exactly as long as our SSH session: when its stdin closes (we closed it, or the
# session died) qemu-nbd is killed and the directory removed. Arguments: format, path, bitmap.
SERVE = r"""
fmt=$1 image=$2 bitmap=$3
dir=$(mktemp -d "${TMPDIR:-/tmp}/opsconsole-nbd.XXXXXXXX") || exit 1
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait; rm -rf "$dir"' EXIT
trap 'exit 1' HUP INT TERM PIPE
set -- --read-only --shared=1 --socket="$dir/nbd.sock" --format="$fmt"
[ -n "$bitmap" ] && set -- "$@" --bitmap="$bitmap"
qemu-nbd "$@" -- "$image" </dev/null >&2 &
pid=$!
while [ ! -S "$dir/nbd.sock" ]; do
    kill -0 "$pid" 2>/dev/null || { wait "$pid"; pid=; exit 1; }
    sleep 0.1
done
echo "$dir/nbd.sock"
cat >/dev/null
"""


# ----- choosing -------------------------------------------------------------------------
def available_disks(vm):
    """Each disk of the domain as libvirt has it now: target, capacity, allocation, format, path."""
    hypervisor, dom = _domain(vm)
    choices = []
    for disk in _call(hypervisor, backup.disks, dom):
        try:
            capacity, allocation, _physical = backup.block_info(dom, disk["target"])
        except LibvirtFailure:
            capacity, allocation = 0, None  # libvirt cannot size it (e.g. a network disk)
        choices.append(DiskChoice(
            name=disk["target"], size=capacity, allocated=allocation,
            description=f"{disk['format']} {disk['type']} disk {disk['path']}".strip(),
            details={"format": disk["format"], "path": disk["path"], "type": disk["type"]},
        ))
    return choices


def open_source(ref, since=""):
    hypervisor, dom = _domain(ref.vm)
    disks = _call(hypervisor, backup.disks, dom)
    disk = next((d for d in disks if d["target"] == ref.disk), None)
    if disk is None:
        listed = ", ".join(d["target"] for d in disks) or "none"
        raise DiskSourceError(f"{ref.disk!r} is not one of {ref.vm}'s disks ({listed}): choose one of them.")
    if disk["type"] not in ("file", "block") or not disk["path"]:
        raise DiskSourceError(f"{ref} is a {disk['type']} disk; only file and block disks can be read.")
    kind = LiveBackupSource if _call(hypervisor, backup.is_active, dom) else RestingDiskSource
    return kind(ref, hypervisor, dom, disk, since).opened()


def open_file(ref, hypervisor, path):
    """A file on the hypervisor exported byte for byte (as raw, whatever format it holds) by
    qemu-nbd, for copying it as it is: a cold migration moves the image file itself."""
    return RestingDiskSource(ref, hypervisor, None, {"format": "raw", "path": path, "type": "file",
                                                     "target": ref.disk}, "").opened()


def _domain(vm):
    hypervisor = vm.hypervisor
    if hypervisor is None:
        raise DiskSourceError(f"{vm} is on no known hypervisor: refresh the inventory.")
    dom = _call(hypervisor, backup.domain, hypervisor.uri, vm.uuid)
    if dom is None:
        raise DiskSourceError(f"{vm} is not defined on {hypervisor} any more: refresh the inventory.")
    return hypervisor, dom


def _call(hypervisor, fn, *args):
    try:
        return fn(*args)
    except HypervisorUnreachable as exc:
        raise DiskSourceError(f"{hypervisor} does not answer ({exc}): try again once it is back.") from exc
    except LibvirtFailure as exc:
        raise DiskSourceError(f"libvirt on {hypervisor} refused: {exc}") from exc


class _ZeroRuns:
    """The regions known to read as zeros (sorted, merged), for 'is this block all zero?'."""

    def __init__(self, extents):
        runs = []
        for offset, length, flags in extents:
            if not flags & ZERO:
                continue
            if runs and runs[-1][1] == offset:
                runs[-1][1] = offset + length
            else:
                runs.append([offset, offset + length])
        self.runs, self.starts = runs, [run[0] for run in runs]

    def covers(self, start, end):
        index = bisect.bisect_right(self.starts, start) - 1
        return index >= 0 and self.runs[index][1] >= end


def _coalesced(ranges, limit=MAX_READ):
    """Adjacent (offset, length) ranges joined into requests of up to `limit` bytes: one NBD
    request per 512 KiB block would spend the tunnel's time on round trips."""
    merged = []
    for offset, length in ranges:
        if merged and merged[-1][0] + merged[-1][1] == offset and merged[-1][1] + length <= limit:
            merged[-1][1] += length
        else:
            merged.append([offset, length])
    return [tuple(item) for item in merged]


def _split(reads, block_size):
    """The (offset, data) of coalesced reads, cut back into blocks."""
    for offset, data in reads:
        for start in range(0, len(data), block_size):
            yield offset + start, data[start:start + block_size]


# ----- sources --------------------------------------------------------------------------
class NBDSource(DiskSource):
    """A disk exported over NBD on its hypervisor and tunnelled here through SSH."""

    def __init__(self, ref, hypervisor, dom, disk, since):
        super().__init__(ref)
        self.hypervisor, self.dom, self.disk, self.since = hypervisor, dom, disk, since
        self.checkpoint = ""
        self.dirty_context = ""
        self.ssh = self.reader = None
        self._reading = ExitStack()
        self._finished = False

    # -- opening
    def _connect_ssh(self):
        try:
            login = ssh_login(self.hypervisor)
        except DiskCopyRefused as exc:
            raise DiskSourceError(f"cannot read {self.ref}: {exc}") from exc
        self.ssh = OpenSSH(login)
        try:
            self.ssh.connect()
        except (SSHFailure, OSError, subprocess.SubprocessError) as exc:
            raise DiskSourceError(f"cannot reach {self.hypervisor} over SSH to read {self.ref}: {exc}") from exc

    def _open_reader(self, remote_socket, export, contexts=()):
        try:
            # No SSH: the export is this machine's own (an image file under a declared root).
            local = remote_socket if self.ssh is None else \
                self._reading.enter_context(self.ssh.forward_unix(remote_socket))
            self.reader = self._reading.enter_context(NBDReader(local, export=export, contexts=contexts))
        except (SSHFailure, OSError, subprocess.SubprocessError) as exc:
            raise DiskSourceError(f"cannot tunnel {self.ref}'s export from {self.hypervisor}: {exc}") from exc
        except NBDFailure as exc:
            raise DiskSourceError(f"cannot open {self.ref}'s export on {self.hypervisor}: {exc}") from exc
        self.size = self.reader.size
        if self.dirty_context and not self.reader.has_context(self.dirty_context):
            self.stats.consistency += f"; the export has no {self.dirty_context}, so every allocated block is read"
            self.dirty_context = ""

    # -- reading
    def _nbd(self, fn, *args):
        if self.reader is None:
            raise DiskSourceError(f"{self.ref} is not open for reading any more.")
        try:
            return fn(*args)
        except NBDGone as exc:
            raise DiskSourceError(f"{self.hypervisor} stopped answering while {self.ref} was read ({exc}); the "
                                  "read can resume once it is back.", gone=True) from exc
        except NBDFailure as exc:
            raise DiskSourceError(f"reading {self.ref} on {self.hypervisor} failed: {exc}") from exc

    def _status(self, context):
        return self._nbd(self.reader.extents, context)

    def extents(self):
        return [(offset, length) for offset, length, flags in self._status(BASE_ALLOCATION) if not flags & HOLE]

    def read(self, offset, length):
        data = self._nbd(self.reader.pread, length, offset)
        self.stats.bytes_scanned += len(data)
        self.stats.bytes_received += len(data)
        return data

    def read_many(self, ranges):
        """(offset, bytes) of each (offset, length), in order, several requests in flight."""
        reads = self.reader.pread_many(ranges)
        while True:
            try:
                offset, data = self._nbd(next, reads)
            except StopIteration:
                return
            self.stats.bytes_scanned += len(data)
            self.stats.bytes_received += len(data)
            yield offset, data

    def blocks(self, block_size, known):
        allocation = self._status(BASE_ALLOCATION)
        zeros = _ZeroRuns(allocation)
        if self.dirty_context:
            self.stats.method = Method.CBT
            wanted = [(o, n) for o, n, flags in self._status(self.dirty_context) if flags & DIRTY]
        else:
            self.stats.method = Method.ALLOCATION
            wanted = [(o, n) for o, n, flags in allocation if not flags & HOLE]
        indexes = blocks_of(wanted, block_size, self.size)
        to_read = []
        for index in indexes:
            start = index * block_size
            end = min(start + block_size, self.size)
            if not zeros.covers(start, end):
                to_read.append((start, end - start))
        starts = {start for start, _ in to_read}
        reads = _split(self.reader.pread_many(_coalesced(to_read)), block_size)  # errors come with each block
        for index in indexes:
            start = index * block_size
            if start in starts:
                _offset, chunk = self._nbd(next, reads)
                data = pad(chunk, block_size)
                self.stats.bytes_scanned += len(chunk)
                self.stats.bytes_received += len(chunk)
            else:
                data = bytes(block_size)  # wholly zero: nothing to read
            self.stats.blocks_offered += 1
            self.tick()
            yield index, data
        if not self.dirty_context:
            covered, zero = set(indexes), zero_sha(block_size)
            for index, digest in sorted(known.items()):
                if index not in covered and digest != zero:
                    self.stats.blocks_offered += 1
                    yield index, bytes(block_size)

    # -- ending
    def _end_read(self):
        self.reader = None
        try:
            self._reading.close()
        except Exception as exc:  # noqa: BLE001 - cleanup must go on
            logger.warning("closing the tunnel of %s: %s", self.ref, exc)

    def _release(self):
        """What the subclass holds on the hypervisor."""

    def close(self):
        self._end_read()
        self._release()
        if self.ssh is not None:
            try:
                self.ssh.close()
            except Exception as exc:  # noqa: BLE001
                logger.warning("closing SSH to %s: %s", self.hypervisor, exc)
            self.ssh = None

    def _remote(self, argv):
        """A cleanup command on the hypervisor; False (logged) when it could not run."""
        try:
            self.ssh.run(argv, timeout=CLEANUP_TIMEOUT)
            return True
        except (SSHFailure, OSError, subprocess.SubprocessError) as exc:
            logger.warning("%s on %s: %s", argv[0], self.hypervisor, exc)
            return False


class LiveBackupSource(NBDSource):
    """A running VM's disk through a libvirt pull-mode backup (see the module docstring)."""

    def open(self):
        target, dom = self.disk["target"], self.dom
        self._connect_ssh()
        self._end_stale_backup()
        tag = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"
        self.directory = f"{LIBVIRT_DIR}/{CHECKPOINT_PREFIX}{tag}"
        owner = self._run(["stat", "-c", "%u:%g", LIBVIRT_DIR]).decode().strip()
        user, _, group = owner.partition(":")
        self._run(["install", "-d", "-m", "0700", "-o", user, "-g", group, self.directory])
        self._directory_made = True
        socket_path, scratch = f"{self.directory}/nbd.sock", f"{self.directory}/{target}.scratch"

        view = "point-in-time view (libvirt pull backup)"
        incremental = ""
        if self.disk["format"] != "qcow2":
            new = ""
            self.stats.consistency = f"{view}; a {self.disk['format']} disk keeps no dirty bitmap, so every " \
                                     "allocated block is read"
        else:
            new = f"{CHECKPOINT_PREFIX}{tag}"
            if self.since and _call(self.hypervisor, backup.has_checkpoint, dom, self.since):
                incremental = self.since
                self.stats.consistency = f"{view}; blocks changed since checkpoint {self.since}"
            elif self.since:
                self.stats.consistency = f"{view}; checkpoint {self.since} is gone from {self.ref.vm}, so every " \
                                         "allocated block is read"
            else:
                self.stats.consistency = f"{view}; first pass: every allocated block is read"
        _call(self.hypervisor, backup.begin_backup, dom, target, socket_path, scratch, incremental, new,
              f"ops console disk source pass for {target}")
        self._job = True
        self.checkpoint = self._created = new
        if incremental:
            job = _call(self.hypervisor, backup.current_backup, dom) or {"disks": {}}
            bitmap = job["disks"].get(target, {}).get("exportbitmap", "")
            if bitmap:
                self.dirty_context = dirty_bitmap_context(bitmap)
            else:
                self.stats.consistency += "; libvirt exported no dirty bitmap, so every allocated block is read"
        self._open_reader(socket_path, target, [self.dirty_context] if self.dirty_context else [])

    def _run(self, argv):
        try:
            return self.ssh.run(argv, timeout=CLEANUP_TIMEOUT)
        except (SSHFailure, OSError, subprocess.SubprocessError) as exc:
            raise DiskSourceError(f"cannot prepare {self.ref}'s export on {self.hypervisor}: {exc}") from exc

    def _end_stale_backup(self):
        """A backup job an earlier pass could not end (its hypervisor vanished) is ended now."""
        job = _call(self.hypervisor, backup.current_backup, self.dom)
        if job is None:
            return
        directory = os.path.dirname(job["socket"])
        if os.path.dirname(directory) != LIBVIRT_DIR or not os.path.basename(directory).startswith(CHECKPOINT_PREFIX):
            raise DiskSourceError(f"{self.ref.vm} already has a backup job the console did not start: wait for it "
                                  "to end, then try again.")
        _call(self.hypervisor, backup.abort_backup, self.dom)
        self._remote(["rm", "-rf", "--", directory])
        logger.info("ended the backup job an earlier pass left on %s (%s)", self.ref.vm, job["socket"])

    def finished(self, ok):
        if self._finished:
            return
        self._finished = True
        self._end_read()
        self._end_backup()
        if not getattr(self, "_created", ""):
            return
        try:
            if ok:
                mine = next((c for c in backup.checkpoints(self.dom) if c["name"] == self._created), None)
                for checkpoint in backup.checkpoints(self.dom):
                    if (checkpoint["name"].startswith(CHECKPOINT_PREFIX) and checkpoint["name"] != self._created
                            and self.disk["target"] in checkpoint["disks"]
                            and (mine is None or checkpoint["created"] <= mine["created"])):
                        backup.delete_checkpoint(self.dom, checkpoint["name"])
            else:
                backup.delete_checkpoint(self.dom, self._created)
                self.checkpoint = self.since
        except (HypervisorUnreachable, LibvirtFailure) as exc:
            # Not fatal: a checkpoint left over is one more bitmap, deleted after the next good pass.
            logger.warning("checkpoints of %s on %s: %s", self.ref, self.hypervisor, exc)

    def _end_backup(self):
        if not getattr(self, "_job", False):
            return
        self._job = False
        try:
            backup.abort_backup(self.dom)
        except HypervisorUnreachable:
            try:  # the cached connection may be the one that died (libvirtd restarted)
                dom = backup.domain(self.hypervisor.uri, self.ref.vm.uuid, fresh=True)
                if dom is not None:
                    backup.abort_backup(dom)
            except (HypervisorUnreachable, LibvirtFailure) as exc:
                logger.warning("could not end the backup job of %s (the next pass ends it): %s", self.ref, exc)
        except LibvirtFailure as exc:
            logger.warning("could not end the backup job of %s: %s", self.ref, exc)

    def _release(self):
        self._end_backup()
        if getattr(self, "_directory_made", False) and self.ssh is not None:
            if self._remote(["rm", "-rf", "--", self.directory]):
                self._directory_made = False


class RestingDiskSource(NBDSource):
    """A shut-off VM's disk served by qemu-nbd on its hypervisor (see the module docstring)."""

    process = None

    def open(self):
        fmt, path = self.disk["format"], self.disk["path"]
        self._connect_ssh()
        bitmap = ""
        rest = "VM shut off: its disk is at rest"
        if self.since and fmt == "qcow2":
            bitmap, why = self._bitmap(path)
            self.stats.consistency = f"{rest}; blocks changed since checkpoint {self.since}" if bitmap else \
                f"{rest}; {why}, so every allocated block is read"
        else:
            self.stats.consistency = f"{rest}; every allocated block is read"
        self.checkpoint = bitmap  # no checkpoint can be taken while it is off
        try:
            self.process = self.ssh.popen(["sh", "-c", SERVE, "opsconsole-nbd", fmt, path, bitmap])
        except (SSHFailure, OSError, subprocess.SubprocessError) as exc:
            raise DiskSourceError(f"cannot start qemu-nbd on {self.hypervisor}: {exc}") from exc
        remote_socket = self.remote_socket = self._ready_line()
        self.dirty_context = dirty_bitmap_context(bitmap) if bitmap else ""
        self._open_reader(remote_socket, "", [self.dirty_context] if bitmap else [])

    def _bitmap(self, path):
        try:
            info = json.loads(self.ssh.run(["qemu-img", "info", "-U", "--output=json", "-f", "qcow2", "--", path],
                                           timeout=CLEANUP_TIMEOUT))
        except (SSHFailure, OSError, subprocess.SubprocessError, ValueError) as exc:
            return "", f"qemu-img info could not list its bitmaps ({exc})"
        bitmaps = info.get("format-specific", {}).get("data", {}).get("bitmaps", [])
        found = next((b for b in bitmaps if b.get("name") == self.since), None)
        if found is None:
            return "", f"checkpoint {self.since} has no bitmap in {path}"
        if "in-use" in found.get("flags", []):
            return "", f"the bitmap of checkpoint {self.since} is inconsistent (the VM did not stop cleanly)"
        return self.since, ""

    def _ready_line(self):
        """The socket path SERVE prints once qemu-nbd listens."""
        deadline = time.monotonic() + READY_TIMEOUT
        line = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                if time.monotonic() > deadline or not selector.select(max(0.0, deadline - time.monotonic())):
                    raise DiskSourceError(f"qemu-nbd on {self.hypervisor} did not start within {READY_TIMEOUT}s.")
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    self.process.wait(timeout=CLEANUP_TIMEOUT)
                    error = self.process.stderr.read().decode(errors="replace").strip()
                    raise DiskSourceError(f"qemu-nbd could not serve {self.disk['path']} on {self.hypervisor}: "
                                          f"{error[-300:] or 'it exited'}")
                line += chunk
        return line.decode().strip()

    def _release(self):
        process, self.process = self.process, None
        if process is None:
            return
        try:
            process.stdin.close()  # the remote `cat` ends: qemu-nbd is killed, its directory removed
            process.wait(timeout=CLEANUP_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
