"""A physical host's block device, read on the host itself over OpenSSH.

The host reads the device (O_DIRECT, past its page cache), hashes each block with SHA-256 and compares it with the hash
of what the target already holds (sent to it on stdin): only blocks whose hash differs
travel back, so the wire carries the data that changed, not the disk. The program runs
with the host's own `python3` (present wherever Ansible runs), from the text below:
nothing is installed on the host.

    listing = list_block_devices(ssh)                        # lsblk -J -b, as dicts
    with stream_changed_blocks(ssh, "/dev/sdb", BLOCK, known, size) as records:
        for kind, index, payload in records:                 # ("data", i, bytes) | ("zero", i, b"") | ("scanned", n, b"")
            ...
"""

import json
import struct
from contextlib import contextmanager

from access.drivers.openssh import SSHFailure

LSBLK_COLUMNS = "NAME,PATH,SIZE,TYPE,RO,FSTYPE,FSUSED,MOUNTPOINTS,MODEL"

# On the host: python3 -c REMOTE DEVICE BLOCK_SIZE SIZE. stdin: 8-byte count, then per known
# block its index (8 bytes) and SHA-256 (32). stdout: records, each a kind byte and an index:
# D (data follows), Z (now zero where the target has data), S (bytes scanned so far), E (end).
REMOTE = r"""
import errno, hashlib, mmap, os, struct, sys
device, block, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
inp, out = sys.stdin.buffer, sys.stdout.buffer
count = struct.unpack(">Q", inp.read(8))[0]
raw = inp.read(40 * count)
known = {struct.unpack_from(">Q", raw, 40 * i)[0]: raw[40 * i + 8:40 * i + 40] for i in range(count)}
zero = bytes(block)
zero_sha = hashlib.sha256(zero).digest()
# O_DIRECT: a mounted file system writes file data past the device's page cache, so a
# buffered read of the device can return blocks as they were before (an mmap is page-aligned).
try:
    fd = os.open(device, os.O_RDONLY | os.O_DIRECT)
except OSError as exc:
    if exc.errno != errno.EINVAL:
        raise
    fd = os.open(device, os.O_RDONLY)
chunk = 8 * block
buffer = mmap.mmap(-1, chunk)
view = memoryview(buffer)
offset = 0
while offset < size:
    want = min(chunk, size - offset)
    got = os.preadv(fd, [view[:want]], offset)
    if got <= 0:
        sys.stderr.write("device ended at %d of %d bytes\n" % (offset, size))
        sys.exit(3)
    for start in range(0, got, block):
        index = (offset + start) // block
        data = bytes(view[start:min(start + block, got)])
        if len(data) < block:
            data += bytes(block - len(data))
        have = known.get(index)
        if data == zero:
            if have is not None and have != zero_sha:
                out.write(b"Z" + struct.pack(">Q", index))
        elif have != hashlib.sha256(data).digest():
            out.write(b"D" + struct.pack(">Q", index) + data)
    offset += got
    out.write(b"S" + struct.pack(">Q", offset))
out.write(b"E" + struct.pack(">Q", offset))
out.flush()
"""


class BlockDeviceError(SSHFailure):
    """The device could not be read to the end (the message says why)."""


def list_block_devices(ssh):
    """Every block device the host reports (lsblk -J -b), flattened: [{name, path, size, type, ...}]."""
    listing = json.loads(ssh.run(["lsblk", "-J", "-b", "-o", LSBLK_COLUMNS], timeout=60))
    found = []

    def walk(devices, parent=""):
        for device in devices or []:
            found.append({**{k: v for k, v in device.items() if k != "children"}, "parent": parent})
            walk(device.get("children"), device.get("name", ""))

    walk(listing.get("blockdevices"))
    return found


@contextmanager
def stream_changed_blocks(ssh, device, block_size, known, size):
    """The host's records for the device (see the module docstring), as a generator."""
    proc = ssh.popen(["python3", "-c", REMOTE, device, block_size, size])
    try:
        proc.stdin.write(struct.pack(">Q", len(known)))
        proc.stdin.write(b"".join(struct.pack(">Q", index) + digest for index, digest in known.items()))
        proc.stdin.close()
        yield _records(proc, block_size, ssh)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            pipe.close()


def _records(proc, block_size, ssh):
    read = proc.stdout.read
    while True:
        head = read(9)
        if len(head) < 9:
            proc.wait()
            ssh.check(proc.returncode or 255, proc.stderr.read(), "reading the device")
            raise BlockDeviceError(f"{ssh.login.name}: the device read stopped early")
        kind, value = head[:1], struct.unpack(">Q", head[1:])[0]
        if kind == b"D":
            data = read(block_size)
            if len(data) < block_size:
                continue  # the next read() sees the end and says why
            yield "data", value, data
        elif kind == b"Z":
            yield "zero", value, b""
        elif kind == b"S":
            yield "scanned", value, b""
        elif kind == b"E":
            return
        else:
            raise BlockDeviceError(f"{ssh.login.name}: unexpected output from the device reader")
