"""Copy a shut-off VM's local disks from one hypervisor to another over SSH, verified.

The bytes flow source -> this worker -> target over two SSH sessions (the hypervisors
need no keys for each other), through OpenSSH (access.drivers.openssh): each image file is
read on its hypervisor through the "vm" disk source (qemu-nbd exporting the file as it is,
its data extents only: holes never cross the wire), reads pipelined, and written on the
target by a small writer that keeps it sparse (drivers.remote_writer), the two overlapped. Each disk lands under a temporary name, is checked with
`sha256sum` on both ends, and only then takes its real name. Whatever fails, `discard()`
removes what was written on the target; the source is only touched by
`remove_sources()`, called once the VM is defined on the target and gone from the source.
"""

import os
import queue
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from access.drivers.openssh import OpenSSH
from access.drivers.ssh import SSHFailure
from access.services.credentials import CredentialBook
from access.services.logins import SSHLogin

from ..drivers.remote_writer import RemoteWriter
from ..drivers.ssh_files import TRANSFER_ERRORS, RemoteFiles
from ..models import Hypervisor
from . import vm_disk_source
from .disk_sources import DiskRef, DiskSourceError
from .hypervisor_login import DiskCopyRefused, ssh_login

CHUNK = 4 * 1024 * 1024  # bytes per NBD read and per write record
QUEUED = 8  # pieces between the reader and the writer: 32 MiB at most in memory
TEMPORARY_MARK = ".opsconsole-copy-"  # a disk's name + this + a random tag: a copy not verified yet


class DiskCopyFailed(Exception):
    """The copy failed; what it wrote on the target was removed."""


def connect(login: SSHLogin, name) -> RemoteFiles:
    try:
        return RemoteFiles(login.address, login.port, login.username, login.pkey, login.trusted_keys)
    except SSHFailure as exc:
        raise DiskCopyRefused(f"cannot open SSH to {name}: {exc}") from exc


class DiskMove:
    """The local disks of one VM on their way from `source` to `target`."""

    def __init__(self, source: Hypervisor, target: Hypervisor, paths, recorder, percent=(5, 85)):
        self.source, self.target, self.paths, self.recorder = source, target, list(paths), recorder
        self.first_percent, self.last_percent = percent
        self.suffix = f"{TEMPORARY_MARK}{uuid.uuid4().hex[:8]}"
        self.written = []  # paths on the target that are ours to remove on failure
        self.dst_ssh = None  # OpenSSH to the target, for the data
        book = CredentialBook()
        self.src = connect(ssh_login(source, book), source.name)
        try:
            self.dst = connect(ssh_login(target, book), target.name)
        except Exception:
            self.src.close()
            raise

    def close(self):
        self.src.close()
        self.dst.close()
        if self.dst_ssh is not None:
            self.dst_ssh.close()

    def check(self):
        """Sizes on the source; refuse before writing anything when the target cannot take them."""
        self.sizes = {}
        for path in self.paths:
            try:
                size = self.src.regular_file_size(path)
            except ValueError as exc:
                raise DiskCopyRefused(f"{exc}; only file disks can be copied") from exc
            if size is None:
                raise DiskCopyRefused(f"{path} is missing on {self.source.name}")
            backing = self.src.backing_file(path)
            if backing:
                raise DiskCopyRefused(
                    f"{path} is an overlay on {backing}: copied alone, the VM would lose its base image. Flatten "
                    "it first (virsh blockpull, or qemu-img convert), or keep both on shared storage"
                )
            if self.dst.exists(path):
                # Also what undeclared shared storage looks like: copying a file onto itself destroys it.
                raise DiskCopyRefused(
                    f"{self.target.name} already has a file at {path}; refusing to overwrite it (is this directory "
                    "shared storage? then set the hypervisors' shared storage path)"
                )
            directory = os.path.dirname(path)
            if not self.dst.is_directory(directory):
                raise DiskCopyRefused(f"{self.target.name} has no directory {directory} for {path}")
            self._remove_leftovers(path)
            self.sizes[path] = size
        needed = {}
        for path, size in self.sizes.items():
            needed[os.path.dirname(path)] = needed.get(os.path.dirname(path), 0) + size
        for directory, size in needed.items():
            free = self.dst.free_bytes(directory)
            if free < size:
                raise DiskCopyRefused(f"{self.target.name} has {_mib(free)} MiB free in {directory}; "
                                      f"the disks need {_mib(size)} MiB")
        return self.sizes

    def _remove_leftovers(self, path):
        """Copies of this disk an earlier attempt left under a temporary name (its worker
        was killed mid-copy): ours by their name, never used, so removed before retrying."""
        prefix = os.path.basename(path) + TEMPORARY_MARK
        for name in self.dst.listdir(os.path.dirname(path)):
            if name.startswith(prefix):
                leftover = os.path.join(os.path.dirname(path), name)
                self.dst.remove(leftover)
                self.recorder.log(f"Removed {leftover} on {self.target.name}, left by an interrupted copy")

    def copy_and_verify(self):
        """Copy every disk under its temporary name and check it; raises DiskCopyFailed
        (target cleaned) or JobCancelled (target cleaned) on the way."""
        sources = {}
        try:
            for path in self.paths:
                sources[path] = vm_disk_source.open_file(DiskRef.for_vm(self.source.name, path), self.source, path)
            self.dst_ssh = OpenSSH(ssh_login(self.target))
            self._copy_all(sources)
        except DiskSourceError as exc:
            raise DiskCopyFailed(f"reading the disks on {self.source.name} failed: {exc}") from exc
        finally:
            for source in sources.values():
                source.close()

    def _copy_all(self, sources):
        extents = {path: source.extents() for path, source in sources.items()}
        data = {path: sum(length for _, length in found) for path, found in extents.items()}
        data_bytes = sum(data.values())
        total = data_bytes or 1
        self.recorder.log(f"Copying {len(self.paths)} local disk(s) from {self.source.name} to {self.target.name} "
                          f"over SSH: {_mib(data_bytes)} MiB of data in {_mib(sum(self.sizes.values()))} "
                          f"MiB of disk (holes are not read)")
        copied = 0
        last_report = 0.0
        span = self.last_percent - self.first_percent
        for path in self.paths:
            temporary = path + self.suffix
            size, moving = self.sizes[path], data[path]

            def report(done, copied_before=copied, path=path, size=moving):
                nonlocal last_report
                now = time.monotonic()
                if now - last_report < 0.5 and done < size:
                    return
                last_report = now
                bytes_done = copied_before + done
                self.recorder.progress(
                    self.first_percent + span * bytes_done // total,
                    f"Copying {os.path.basename(path)}: {_mib(bytes_done)} of {_mib(total)} MiB copied",
                )

            self.written.append(temporary)
            chunks = [(offset, min(CHUNK, start + length - offset))
                      for start, length in extents[path] for offset in range(start, start + length, CHUNK)]
            try:
                with RemoteWriter(self.dst_ssh, temporary, size) as writer:
                    _pipe(sources[path].read_many(chunks), writer, report)
            except TRANSFER_ERRORS as exc:
                raise DiskCopyFailed(f"copying {path} to {self.target.name} failed: {exc}") from exc
            copied += moving
            self._verify(path, temporary, moving)

    def _verify(self, path, temporary, moved):
        self.recorder.progress(self.last_percent, f"Verifying {os.path.basename(path)} (sha256 on both hosts)")
        try:
            # Both hosts read their copy at once, after the copy: half the wait, and a source
            # changed meanwhile still differs from what was sent.
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="sha256") as pool:
                source_sum, target_sum = pool.submit(self.src.sha256, path), pool.submit(self.dst.sha256, temporary)
                expected, got = source_sum.result(), target_sum.result()
        except SSHFailure as exc:
            raise DiskCopyFailed(f"could not checksum {path}: {exc}") from exc
        if expected != got:
            raise DiskCopyFailed(f"{path}: sha256 on {self.target.name} is {got[:16]}…, on {self.source.name} "
                                 f"{expected[:16]}…; the copy is corrupt")
        self.recorder.log(f"{path}: {_mib(self.sizes[path])} MiB disk copied ({_mib(moved)} MiB of data sent), "
                          f"sha256 {expected[:16]}… verified on both hosts")

    def commit(self):
        """Give the verified copies their real names on the target."""
        for path in self.paths:
            self.dst.rename(path + self.suffix, path)
            self.written.remove(path + self.suffix)
            self.written.append(path)

    def discard(self):
        """Remove everything this move wrote on the target. Never raises: it runs on failure paths."""
        removed = []
        for path in list(self.written):
            try:
                if self.dst.remove(path):
                    removed.append(path)
                self.written.remove(path)
            except TRANSFER_ERRORS as exc:
                self.recorder.log(f"Could not remove {path} from {self.target.name}: {exc}; remove it by hand")
        if removed:
            self.recorder.log(f"Removed the copies on {self.target.name}: {', '.join(removed)}")
        return removed

    def remove_sources(self):
        for path in self.paths:
            try:
                self.src.remove(path)
            except TRANSFER_ERRORS as exc:
                self.recorder.log(f"Could not remove {path} from {self.source.name}: {exc}; remove it by hand")
        self.recorder.log(f"Removed the disks on {self.source.name}: {', '.join(self.paths)}")


def _pipe(pieces, writer, report):
    """Write the (offset, data) pieces with writer while the next ones are read: the read
    and the write each wait on a different host, so they overlap (a bounded queue between
    them keeps at most QUEUED pieces in memory). report(bytes read) after each piece."""
    handoff = queue.Queue(maxsize=QUEUED)

    def write_all():
        while (piece := handoff.get()) is not None:
            writer.write(*piece)

    def put(item, writing):
        while True:
            if writing.done():
                writing.result()  # the writer failed: its error stops the copy
                raise OSError("the writer stopped before the copy ended")
            try:
                handoff.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="disk-write") as pool:
        writing = pool.submit(write_all)
        done = 0
        try:
            for offset, data in pieces:
                put((offset, data), writing)
                done += len(data)
                report(done)
        finally:
            if not writing.done():
                put(None, writing)
        writing.result()
    return done


def _mib(size):
    return size // (1024 * 1024)
