"""Image files on the worker: what format and size they are, and where their data is.

    fmt, size = inspect("/srv/images/saturn.raw")   # ("raw", virtual size in bytes), by qemu-img info
    extents = data_extents(fd, size)                 # [(offset, length)] holding data; holes left out
    with serve_nbd(path, "qcow2") as socket_path:    # qemu-nbd, read-only, on a socket only we can reach
        ...

`qemu-img` (Debian qemu-utils) tells every format QEMU knows; -U lets it read an image a
running VM holds open. Failures are DiskImageError with a sentence.
"""

import errno
import json
import os
import shutil
import subprocess
import tempfile
import time
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
    """(format, virtual size in bytes) of the image."""
    if not os.path.exists(path):
        raise DiskImageError(f"There is no disk image at {path}.")
    if not os.access(path, os.R_OK):
        raise DiskImageError(f"The disk image {path} is not readable by this process.")
    info = json.loads(_qemu_img("info", "-U", "--output=json", path))
    return info["format"], int(info["virtual-size"])


def data_extents(fd, size):
    """[(offset, length)] of the file's data (SEEK_DATA/SEEK_HOLE), so holes are never read;
    the whole file when the file system cannot tell."""
    extents, offset = [], 0
    try:
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # no data after offset
                    break
                raise
            end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
            if end > start:
                extents.append((start, end - start))
            offset = max(end, start + 1)
    except (OSError, AttributeError):
        return [(0, size)]
    return extents


@contextmanager
def serve_nbd(path, fmt, timeout=30):
    """qemu-nbd serving the image read-only, as the guest sees it, on a Unix socket in a
    0700 directory of ours; stopped (and the directory removed) when the block ends."""
    directory = tempfile.mkdtemp(prefix="opsconsole-nbd-")
    socket_path = os.path.join(directory, "nbd.sock")
    try:
        server = subprocess.Popen(["qemu-nbd", "--read-only", "--shared=1", f"--socket={socket_path}",
                                   f"--format={fmt}", "--", path], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except FileNotFoundError as exc:
        shutil.rmtree(directory, ignore_errors=True)
        raise DiskImageError("qemu-nbd is not installed (Debian package qemu-utils).") from exc
    try:
        deadline = time.monotonic() + timeout
        while not os.path.exists(socket_path):
            if server.poll() is not None:
                raise DiskImageError(f"qemu-nbd could not serve {path}: "
                                     f"{server.stderr.read().decode(errors='replace').strip()[-300:]}")
            if time.monotonic() > deadline:
                raise DiskImageError(f"qemu-nbd did not serve {path} within {timeout}s.")
            time.sleep(0.02)
        yield socket_path
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stderr.close()
        shutil.rmtree(directory, ignore_errors=True)
