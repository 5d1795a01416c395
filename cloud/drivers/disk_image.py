"""Reading a VM's disk image block by block, whatever its format.

    fmt, size = inspect("/var/lib/libvirt/images/saturn.qcow2")   # ("qcow2", virtual size in bytes)
    with raw_image(path, fmt, workdir) as raw:                       # raw: as is; qcow2: `qemu-img convert`
        with open(raw, "rb") as disk:
            for index in data_blocks(disk.fileno(), size, BLOCK):   # holes are skipped without reading
                data = read_block(disk.fileno(), index, BLOCK, size)

`qemu-img` (Debian qemu-utils) reads qcow2 and every other format QEMU knows; -U lets it
read an image a running VM holds open. Failures are DiskImageError with a sentence.
"""

import errno
import json
import os
import subprocess
import tempfile
from contextlib import contextmanager

QEMU_IMG = "qemu-img"


class DiskImageError(Exception):
    pass


def _qemu_img(*args):
    try:
        done = subprocess.run([QEMU_IMG, *args], capture_output=True, text=True, timeout=3600)
    except FileNotFoundError as exc:
        raise DiskImageError("qemu-img is not installed (Debian package qemu-utils).") from exc
    if done.returncode:
        raise DiskImageError(f"qemu-img {args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def inspect(path):
    """(format, virtual size in bytes) of the image; a raw block device is "raw" too."""
    if not os.path.exists(path):
        raise DiskImageError(f"There is no disk image at {path}.")
    if not os.access(path, os.R_OK):
        raise DiskImageError(f"The disk image {path} is not readable by this process.")
    info = json.loads(_qemu_img("info", "-U", "--output=json", path))
    return info["format"], int(info["virtual-size"])


@contextmanager
def raw_image(path, fmt, workdir):
    """A raw view of the image: the file itself when raw, else a sparse raw copy made
    with `qemu-img convert` in workdir, removed afterwards."""
    if fmt == "raw":
        yield path
        return
    os.makedirs(workdir, exist_ok=True)
    handle, raw = tempfile.mkstemp(prefix="replication-", suffix=".raw", dir=workdir)
    os.close(handle)
    try:
        _qemu_img("convert", "-U", "-f", fmt, "-O", "raw", path, raw)
        yield raw
    finally:
        os.unlink(raw)


def data_blocks(fd, size, block_size):
    """Indexes of the blocks that may hold data: those touching a data extent
    (SEEK_DATA/SEEK_HOLE), so the holes of a sparse file are never read. Every block
    when the file system cannot tell (or for a block device)."""
    count = -(-size // block_size)
    try:
        indexes, offset = [], 0
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # no data after offset
                    break
                raise
            end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
            first, last = start // block_size, (max(end, start + 1) - 1) // block_size
            if indexes and indexes[-1] >= first:
                first = indexes[-1] + 1
            indexes.extend(range(first, min(last, count - 1) + 1))
            offset = end
        return indexes
    except (OSError, AttributeError):
        return list(range(count))


def read_block(fd, index, block_size, size):
    """Block `index`, padded with zeros to block_size (the image may end mid-block)."""
    data = os.pread(fd, block_size, index * block_size)
    if len(data) < block_size:
        if index * block_size + len(data) < min(size, (index + 1) * block_size) and len(data) == 0:
            raise DiskImageError(f"The disk image is shorter than its size ({size} bytes): block {index} is missing.")
        data += bytes(block_size - len(data))
    return data
