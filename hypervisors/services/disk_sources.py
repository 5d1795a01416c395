"""Disk sources: a workload's disk read where it lives, for every migration that copies one.

Three kinds, one interface:

- "vm": a VM's disk on its hypervisor, through libvirt (vm_disk_source): a running VM is
  read through a pull-mode backup (a point-in-time NBD export; libvirt checkpoints, i.e.
  QEMU dirty bitmaps, tell which blocks changed since the last pass); a shut-off one through
  qemu-nbd on the hypervisor. Either way the export is a Unix socket on the hypervisor
  reached through our SSH connection alone.
- "host": a physical host's block device, over SSH (host_disk_source): the blocks are read
  and hashed on the host, and only blocks whose SHA-256 differs from what the target holds
  cross the wire.
- "image": an image file on the worker, only under the storage roots an admin declared
  (settings.OPSCONSOLE_IMAGE_ROOTS), regular files only (image_file_source).

    ref = DiskRef.for_vm(vm, "vda")  |  DiskRef.for_host(host, "sdb")  |  DiskRef.for_image(path)
    choices = available_disks(vm=vm)  # or host=host: [DiskChoice] the user picks from
    check_disk(ref)                   # DiskSourceError(sentence) unless ref names one of them
    with open_source(ref, since=checkpoint) as source:   # since: the named point of the last pass
        for index, data in source.blocks(BLOCK, known):   # known: {index: sha256} the target holds
            ...
        source.finished(ok=True)      # keeps source.checkpoint for the next pass
    source.stats                      # bytes read at the source, bytes received, how changes were found

Errors are DiskSourceError with a sentence (the source is unreachable, powered off, its key
changed...); `gone` says the source vanished mid-read (resumable once it is back).
"""

import hashlib
import importlib
import time
from dataclasses import dataclass, field

ZERO_SHA_CACHE = {}


class DiskSourceError(Exception):
    """The disk cannot be read; the message says why and what to do."""

    def __init__(self, message, *, field="disk", gone=False):
        super().__init__(message)
        self.field, self.gone = field, gone


class Method:
    """How a pass found the blocks to send (shown per pass on the run page and the API)."""
    CBT = "changed-block tracking"
    SOURCE_HASH = "source-side hashing"
    ALLOCATION = "allocation scan"  # every allocated block read and hashed by the worker


@dataclass
class SourceStats:
    method: str = ""
    bytes_scanned: int = 0  # read at the source (what its disk did)
    bytes_received: int = 0  # payload that reached this worker (what the wire carried, less SSH's framing)
    blocks_offered: int = 0  # blocks the source said may have changed
    consistency: str = ""  # a sentence for the log: point-in-time, or crash-consistent and why


@dataclass(frozen=True)
class DiskRef:
    """Which disk: kind "vm" (vm + its target dev), "host" (host + device name), "image" (path)."""
    kind: str
    disk: str
    vm: object = None
    host: object = None

    @classmethod
    def for_vm(cls, vm, target):
        return cls("vm", target, vm=vm)

    @classmethod
    def for_host(cls, host, device):
        return cls("host", device, host=host)

    @classmethod
    def for_image(cls, path):
        return cls("image", str(path))

    def __str__(self):
        if self.kind == "vm":
            return f"{self.disk} of {self.vm}"
        if self.kind == "host":
            return f"/dev/{self.disk} of {self.host}"
        return self.disk


@dataclass
class DiskChoice:
    """A disk a user can pick: name (the DiskRef's disk), size and allocation in bytes
    (allocation None when the source cannot tell), and what else is known."""
    name: str
    size: int
    allocated: int | None = None
    description: str = ""
    details: dict = field(default_factory=dict)

    def as_dict(self):
        return {"name": self.name, "size": self.size, "allocated": self.allocated, "description": self.description,
                **self.details}


class DiskSource:
    """One disk, open for one pass. Subclasses set size, stats, checkpoint and implement
    extents, read and blocks; close releases whatever the source holds on the far side."""

    size = 0
    checkpoint = ""  # the named point this view is; the next pass's `since` ("" when the kind has none)

    def __init__(self, ref):
        self.ref = ref
        self.stats = SourceStats()
        self.on_progress = None  # the reader's callable, told (at most every second) that the scan goes on
        self._last_tick = 0.0

    def tick(self):
        """Tell the reader the scan goes on (stats updated); sources call it as they read."""
        now = time.monotonic()
        if self.on_progress is not None and now - self._last_tick >= 1.0:
            self._last_tick = now
            self.on_progress()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.finished(ok=False)
        self.close()

    def opened(self):
        """The source after its open() (a subclass that connects in two steps defines one);
        closed again, whatever it already holds, when opening fails."""
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def open(self):
        pass

    def extents(self):
        """[(offset, length)] of the regions that may hold data (holes are never read)."""
        raise NotImplementedError

    def read(self, offset, length):
        """`length` bytes at `offset` (fewer only at the end of the disk)."""
        raise NotImplementedError

    def blocks(self, block_size, known):
        """(index, data) of every block that may differ from `known` ({index: sha256 bytes} the
        target holds; absent = zero), data padded to block_size. A block not yielded is
        what `known` says. Default: read every block of the data extents; also offer, as
        zeros, known non-zero blocks that lie wholly in holes now."""
        self.stats.method = self.stats.method or Method.ALLOCATION
        covered = set()
        for index in blocks_of(self.extents(), block_size, self.size):
            covered.add(index)
            data = pad(self.read(index * block_size, block_size), block_size)
            self.stats.bytes_scanned += len(data)
            self.stats.bytes_received += len(data)
            self.stats.blocks_offered += 1
            self.tick()
            yield index, data
        zero = zero_sha(block_size)
        for index, digest in sorted(known.items()):
            if index not in covered and digest != zero:
                self.stats.blocks_offered += 1
                yield index, bytes(block_size)

    def finished(self, ok):
        """The pass ended: ok keeps this view's checkpoint for the next pass, else it is dropped."""

    def close(self):
        pass


def blocks_of(extents, block_size, size):
    """Sorted indexes of the blocks the extents touch."""
    last = -(-size // block_size) - 1
    indexes = []
    for offset, length in extents:
        if length <= 0:
            continue
        first = offset // block_size
        if indexes and indexes[-1] >= first:
            first = indexes[-1] + 1
        indexes.extend(range(first, min((offset + length - 1) // block_size, last) + 1))
    return indexes


def pad(data, block_size):
    return bytes(data) if len(data) == block_size else bytes(data) + bytes(block_size - len(data))


def zero_sha(block_size):
    if block_size not in ZERO_SHA_CACHE:
        ZERO_SHA_CACHE[block_size] = hashlib.sha256(bytes(block_size)).digest()
    return ZERO_SHA_CACHE[block_size]


KIND_MODULES = {"vm": "vm_disk_source", "host": "host_disk_source", "image": "image_file_source"}


def _kind(kind):
    # Imported when first used: each kind pulls in its own drivers (libnbd, OpenSSH).
    return importlib.import_module(f"{__package__}.{KIND_MODULES[kind]}")


def available_disks(*, vm=None, host=None):
    """The disks a workload can be read from, asked of the real system: [DiskChoice]
    (a VM's, a host's, or with neither the images under the declared roots)."""
    if vm is not None:
        return _kind("vm").available_disks(vm)
    if host is not None:
        return _kind("host").available_disks(host)
    return _kind("image").available_disks()


def check_disk(ref):
    """The DiskChoice ref names; DiskSourceError (field "disk") when it is not one of the real disks."""
    if ref.kind not in KIND_MODULES:
        raise DiskSourceError(f"Unknown kind of disk {ref.kind!r}.")
    if ref.kind == "image":
        return _kind("image").check(ref.disk)
    choices = available_disks(vm=ref.vm) if ref.kind == "vm" else available_disks(host=ref.host)
    for choice in choices:
        if choice.name == ref.disk:
            return choice
    owner = ref.vm if ref.kind == "vm" else ref.host
    listed = ", ".join(c.name for c in choices) or "none"
    raise DiskSourceError(f"{ref.disk!r} is not one of {owner}'s disks ({listed}): choose one of them.")


def open_source(ref, since=""):
    """A DiskSource for ref (a context manager). since: the checkpoint the last completed
    pass left ("" for none: every allocated block is offered)."""
    return _kind(ref.kind).open_source(ref, since=since)
