"""Writing a disk file on a host over OpenSSH, sparse: pieces at their offsets, holes left holes.

    with RemoteWriter(ssh, "/var/lib/libvirt/images/x.img.opsconsole-copy-ab12", size) as writer:
        writer.write(offset, data)       # all-zero pieces are skipped: the file stays sparse
    # leaving the block: the host truncates the file to `size`, fsyncs it and says so

The host runs a few lines of its own `python3` (present wherever Ansible runs); the file
must not exist yet (O_EXCL: a copy never overwrites anything).
"""

import struct

from access.drivers.openssh import SSHFailure

# stdin: records of offset (8 bytes), length (4 bytes), data; a zero length ends it.
REMOTE = r"""
import os, struct, sys
path, size = sys.argv[1], int(sys.argv[2])
inp = sys.stdin.buffer
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
while True:
    head = inp.read(12)
    if len(head) < 12:
        sys.exit("the copy stopped before its end")
    offset, length = struct.unpack(">QI", head)
    if not length:
        break
    data = inp.read(length)
    if len(data) < length:
        sys.exit("the copy stopped before its end")
    os.pwrite(fd, data, offset)
os.ftruncate(fd, size)
os.fsync(fd)
os.close(fd)
sys.stdout.write("written\n")
"""


class RemoteWriteFailed(SSHFailure):
    """The file could not be written to its end; whatever was written is the caller's to remove."""


class RemoteWriter:
    def __init__(self, ssh, path, size):
        self.ssh, self.path = ssh, path
        self.proc = ssh.popen(["python3", "-c", REMOTE, path, size])
        self.bytes_sent = 0

    def write(self, offset, data):
        if data.count(0) == len(data):
            return  # a hole reads back as zeros: nothing to send
        try:
            self.proc.stdin.write(struct.pack(">QI", offset, len(data)))
            self.proc.stdin.write(data)
        except (BrokenPipeError, OSError) as exc:
            raise self._failure() from exc
        self.bytes_sent += len(data)

    def finish(self):
        try:
            self.proc.stdin.write(struct.pack(">QI", 0, 0))
            self.proc.stdin.close()
        except (BrokenPipeError, OSError) as exc:
            raise self._failure() from exc
        out = self.proc.stdout.read()
        self.proc.wait()
        if self.proc.returncode or b"written" not in out:
            raise self._failure()

    def _failure(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        stderr = self.proc.stderr.read().decode(errors="replace")
        try:
            self.ssh.check(self.proc.returncode or 1, stderr, f"writing {self.path}")
        except SSHFailure as exc:
            return RemoteWriteFailed(str(exc))
        return RemoteWriteFailed(f"{self.ssh.login.name}: writing {self.path} failed")

    def abort(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self):
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                pipe.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.finish()
            else:
                self.abort()
        finally:
            self.close()
