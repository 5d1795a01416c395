"""Files on a hypervisor over SSH (paramiko): stat, checksum, rename, remove (the bytes of a
copy go through OpenSSH: services.disk_copy).

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

    def rename(self, old, new):
        self.sftp.posix_rename(old, new)

    def remove(self, path):
        """Remove a file if it is there; True if it was."""
        try:
            self.sftp.remove(path)
        except FileNotFoundError:
            return False
        return True
