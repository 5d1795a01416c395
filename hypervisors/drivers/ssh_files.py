"""Files on a hypervisor over SSH (paramiko): stat, read, write, checksum, remove.

Host keys are verified against the keys an admin trusted (access's HostKey), with the
access app's SSH helpers: a key nobody trusted, or a changed one, refuses the
connection. No agent, no ~/.ssh, no known_hosts file.
"""

import json
import shlex
import stat

import paramiko

from access.drivers.ssh import (
    AuthenticationFailed,
    HostKeyChanged,
    RefuseUnknownKeys,
    SSHFailure,
    Unreachable,
    known_hosts_name,
    public_key_from,
)

CHUNK = 1024 * 1024
WINDOW = 16  # blocks in flight: 16 MiB


class RemoteCommandFailed(SSHFailure):
    """A command ran and exited non-zero; the message carries its stderr."""


# What a transfer can fail with: the link, the session, the remote file system.
TRANSFER_ERRORS = (OSError, EOFError, paramiko.SSHException, paramiko.SFTPError, SSHFailure)


class RemoteFiles:
    """One SSH session to a host, kept open for a series of file operations."""

    def __init__(self, address, port, username, pkey, trusted_keys, timeout=15):
        self.address = address
        self.client = paramiko.SSHClient()
        self.client.set_missing_host_key_policy(RefuseUnknownKeys())
        name = known_hosts_name(address, port)
        for key_type, key_base64 in trusted_keys:
            self.client.get_host_keys().add(name, key_type, public_key_from(key_type, key_base64))
        try:
            self.client.connect(address, port=port, username=username, pkey=pkey, timeout=timeout,
                                banner_timeout=timeout, auth_timeout=timeout, allow_agent=False, look_for_keys=False)
        except paramiko.BadHostKeyException as exc:
            raise HostKeyChanged(exc.expected_key, exc.key) from exc
        except paramiko.AuthenticationException as exc:
            raise AuthenticationFailed(f"{address}: authentication as {username} refused") from exc
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise Unreachable(f"{address}:{port}: {exc}") from exc
        self.sftp = self.client.open_sftp()
        self.sftp.get_channel().settimeout(timeout * 4)

    def close(self):
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def run(self, *argv, timeout=3600):
        """Run a command (argv quoted for the remote shell); its stdout, or RemoteCommandFailed."""
        command = " ".join(shlex.quote(str(arg)) for arg in argv)
        try:
            _stdin, stdout, stderr = self.client.exec_command(command, timeout=timeout)
            out, err = stdout.read().decode(errors="replace"), stderr.read().decode(errors="replace")
            status = stdout.channel.recv_exit_status()
        except (TimeoutError, paramiko.SSHException, OSError) as exc:
            raise RemoteCommandFailed(f"{self.address}: {argv[0]} failed: {exc}") from exc
        if status != 0:
            raise RemoteCommandFailed(f"{self.address}: {argv[0]} exited {status}: {err.strip()[:300]}")
        return out

    def regular_file_size(self, path):
        """Size in bytes of a regular file, None if nothing is there; ValueError for anything else."""
        try:
            attributes = self.sftp.stat(path)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(attributes.st_mode):
            raise ValueError(f"{path} on {self.address} is not a regular file")
        return attributes.st_size

    def exists(self, path):
        try:
            self.sftp.lstat(path)
        except FileNotFoundError:
            return False
        return True

    def is_directory(self, path):
        try:
            return stat.S_ISDIR(self.sftp.stat(path).st_mode)
        except FileNotFoundError:
            return False

    def listdir(self, directory):
        return self.sftp.listdir(directory)

    def free_bytes(self, directory):
        return int(self.run("df", "--output=avail", "-B1", directory).split()[-1])

    def sha256(self, path):
        return self.run("sha256sum", "--", path).split()[0]

    def backing_file(self, path):
        """The image a qcow2 (or other) overlay is based on, by `qemu-img info`; None when
        it has none, or when qemu-img is missing or cannot read it (nothing to tell)."""
        try:
            info = json.loads(self.run("qemu-img", "info", "-U", "--output=json", "--", path, timeout=120))
        except (RemoteCommandFailed, ValueError):
            return None
        return info.get("full-backing-filename") or info.get("backing-filename") if isinstance(info, dict) else None

    def data_extents(self, path, size):
        """[(offset, length)] of the file's regions that hold data, read by `qemu-img map`
        on the host (lseek SEEK_DATA/SEEK_HOLE, the file taken as raw bytes whatever its
        format), so holes never cross the wire. The whole file when qemu-img is missing or
        cannot tell (the copy then reads everything: slower, never wrong)."""
        try:
            mapped = json.loads(self.run("qemu-img", "map", "-f", "raw", "--output=json", "--", path, timeout=600))
            extents = [(int(e["start"]), int(e["length"])) for e in mapped if e.get("data")]
        except (RemoteCommandFailed, ValueError, KeyError, TypeError):
            return [(0, size)]
        return [(start, min(length, size - start)) for start, length in extents if start < size]

    def read_blocks(self, path, extents, chunk=CHUNK, window=WINDOW):
        """(offset, data) of the extents [(offset, length)], in blocks of `chunk`, `window`
        blocks requested at once: pipelined like a full prefetch, but never more than a
        window held in memory (a full prefetch buffers a whole disk when the target writes slower)."""
        blocks = [(offset, min(chunk, start + length - offset))
                  for start, length in extents for offset in range(start, start + length, chunk)]
        with self.sftp.open(path, "rb") as handle:
            for first in range(0, len(blocks), window):
                batch = blocks[first:first + window]
                yield from zip((offset for offset, _ in batch), handle.readv(batch), strict=True)

    def open_write(self, path):
        handle = self.sftp.open(path, "wb")
        handle.set_pipelined(True)
        return handle

    def rename(self, old, new):
        self.sftp.posix_rename(old, new)

    def remove(self, path):
        """Remove a file if it is there; True if it was."""
        try:
            self.sftp.remove(path)
        except FileNotFoundError:
            return False
        return True


def copy_stream(pieces, writer, size, on_chunk, expected=None):
    """Write the (offset, data) pieces at their offsets, skipping blocks of zeros so the
    copy stays sparse (a hole reads back as zeros; the final truncate gives the file its
    full `size`). `expected`: the bytes the pieces add up to (default: size). Calls
    on_chunk(bytes received) after each piece; it may raise to stop the copy."""
    expected = size if expected is None else expected
    done = 0
    for offset, data in pieces:
        if data.count(0) != len(data):
            writer.seek(offset)
            writer.write(data)
        done += len(data)
        on_chunk(done)
    if done < expected:
        raise OSError(f"source ended after {done} of {expected} bytes")
    writer.truncate(size)
    return done
