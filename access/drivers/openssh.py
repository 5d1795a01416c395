"""OpenSSH's own client, for the data paths: disk reads, copies, tunnels.

paramiko moves about 57 MB/s here against OpenSSH's ~200 MB/s (docs/development.md), so
whatever carries a disk goes through `ssh`. It is held to the same rules as
access.drivers.ssh: the host keys an admin trusted are the only ones accepted (a
known_hosts file of ours, StrictHostKeyChecking=yes), the private key comes from the
credential (a 0600 file in a private 0700 directory, removed on close), and nothing of
the worker's own ~/.ssh, agent or config is read (-F /dev/null, IdentitiesOnly). One
master connection per OpenSSH object carries every command and tunnel (ControlMaster).

    with OpenSSH(login) as ssh:                      # login: access.services.logins.SSHLogin
        out = ssh.run(["lsblk", "-J", "-b"])         # bytes; SSHFailure subclasses on failure
        proc = ssh.popen(["python3", "-c", SCRIPT])  # a stream: stdin/stdout pipes
        with ssh.forward_unix("/run/x.sock") as local_path: ...   # a Unix socket, tunnelled
"""

import os
import shlex
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager, suppress

from .ssh import AuthenticationFailed, SSHFailure, Unreachable, known_hosts_name

SSH = "ssh"
SSH_ERROR = 255  # ssh's own exit status: the connection failed, not the command


class HostKeyRefused(SSHFailure):
    """The host showed a key nobody trusted for its address (changed, or never trusted)."""

    alive = True


class RemoteCommandFailed(SSHFailure):
    """The command ran and exited non-zero; the message carries its stderr."""

    alive = True


class OpenSSH:
    def __init__(self, login, connect_timeout=15):
        self.login = login
        self._dir = tempfile.mkdtemp(prefix="opsconsole-ssh-")  # 0700, ours alone
        try:
            key = os.path.join(self._dir, "key")
            _write_private(key, login.private_key.strip() + "\n")
            if login.passphrase:
                # OpenSSH would ask for it on a terminal: give this private copy no passphrase instead.
                _local(["ssh-keygen", "-q", "-p", "-P", login.passphrase, "-N", "", "-f", key])
            known_hosts = os.path.join(self._dir, "known_hosts")
            name = known_hosts_name(login.address, login.port)
            _write_private(known_hosts, "".join(f"{name} {kind} {blob}\n" for kind, blob in login.trusted_keys))
        except BaseException:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise
        self.control = os.path.join(self._dir, "master")
        self.options = [
            "-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
            "-o", f"UserKnownHostsFile={known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", "-o", "CheckHostIP=no", "-o", "UpdateHostKeys=no",
            "-o", "BatchMode=yes", "-o", f"ConnectTimeout={int(connect_timeout)}",
            "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", "-o", "LogLevel=ERROR",
            "-o", f"ControlPath={self.control}", "-p", str(login.port), "-l", login.username,
        ]
        self._master = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def connect(self):
        """Log in once (the master connection every later command and tunnel rides on).
        Its output goes to a file: a pipe would be held open by the backgrounded master."""
        if self._master:
            return
        log = os.path.join(self._dir, "master.log")
        with open(log, "wb") as output:
            done = subprocess.run([SSH, *self.options, "-M", "-f", "-N", "-o", "ControlPersist=yes",
                                   self.login.address], stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                                  timeout=120)
        with open(log, "rb") as output:
            self.check(done.returncode, output.read(), "login")
        self._master = True

    def argv(self, remote_argv, *ssh_options):
        """The local command line running remote_argv (each word quoted for the remote shell)."""
        self.connect()
        command = " ".join(shlex.quote(str(word)) for word in remote_argv)
        return [SSH, *self.options, "-o", "ControlMaster=no", *ssh_options, self.login.address, "--", command]

    def popen(self, remote_argv, **kwargs):
        """The command as a process with pipes (stdin, stdout, stderr unless given)."""
        kwargs.setdefault("stdin", subprocess.PIPE)
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(self.argv(remote_argv), **kwargs)

    def run(self, remote_argv, input=None, timeout=600):
        """Run and wait; its stdout (bytes). SSHFailure subclasses say what failed."""
        try:
            done = subprocess.run(self.argv(remote_argv), input=input, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise Unreachable(f"{self.login.name}: {remote_argv[0]} did not finish within {timeout}s") from exc
        self.check(done.returncode, done.stderr, remote_argv[0])
        return done.stdout

    def check(self, returncode, stderr, what):
        """Raise what a finished ssh process's status and stderr mean (nothing when it succeeded)."""
        if returncode == 0:
            return
        message = stderr.decode(errors="replace").strip() if isinstance(stderr, bytes) else (stderr or "").strip()
        raise self.failure(returncode, message, what)

    def failure(self, returncode, message, what):
        name = self.login.name
        if returncode != SSH_ERROR:
            return RemoteCommandFailed(f"{name}: {what} exited {returncode}: {message[-300:]}")
        if "Host key verification failed" in message or "IDENTIFICATION HAS CHANGED" in message:
            return HostKeyRefused(f"{name} showed an SSH host key nobody trusted for {self.login.address}: "
                                  "refused (if it was reinstalled, trust its new key on the health page)")
        if "Permission denied" in message:
            return AuthenticationFailed(f"{name}: authentication as {self.login.username} refused")
        return Unreachable(f"{name} did not answer over SSH: {message[-300:]}" if message else
                           f"{name} stopped answering over SSH (powered off, or cut off from this worker)")

    @contextmanager
    def forward_unix(self, remote_socket):
        """A local Unix socket (in our private directory) that reaches remote_socket on the host
        through the master connection; cancelled when the block ends."""
        self.connect()
        local = os.path.join(self._dir, f"tunnel-{time.monotonic_ns()}.sock")
        forward = ["-o", "StreamLocalBindUnlink=yes", "-L", f"{local}:{remote_socket}", self.login.address]
        done = subprocess.run([SSH, *self.options, "-O", "forward", *forward], capture_output=True, timeout=30)
        self.check(done.returncode, done.stderr, "the tunnel")
        try:
            yield local
        finally:
            subprocess.run([SSH, *self.options, "-O", "cancel", *forward], capture_output=True, timeout=30)
            with suppress(FileNotFoundError):
                os.unlink(local)

    def close(self):
        if self._master:
            subprocess.run([SSH, *self.options, "-O", "exit", self.login.address], capture_output=True, timeout=10)
            self._master = False
        shutil.rmtree(self._dir, ignore_errors=True)


def _write_private(path, text):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.write(text)


def _local(argv):
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if done.returncode:
        raise SSHFailure(f"{argv[0]} failed: {done.stderr.strip()[:200]}")
