"""The one place that talks SSH (paramiko).

`run()` logs in with a private key, verifies the server's host key against the keys the
caller trusts, runs one command and returns its output, all within a deadline. A host
key nobody trusted yet is refused (and handed back so it can be offered for trust); a
host key other than the trusted one is refused loudly. No agent, no ~/.ssh, no
known_hosts file: only what the caller passes in.
"""

import base64
import hashlib
import io
import time
from dataclasses import dataclass

import paramiko

KEY_CLASSES = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)


class SSHFailure(Exception):
    """The check failed; `alive` says whether the answer still proves the host is up."""

    alive = False


class Unreachable(SSHFailure):
    """No SSH server answered (refused, no route, timed out)."""


class UnknownHostKey(SSHFailure):
    alive = True

    def __init__(self, key):
        self.key = key
        super().__init__(f"host key not trusted yet: {key_type(key)} {fingerprint(key)} awaits an admin's trust")


class HostKeyChanged(SSHFailure):
    alive = True

    def __init__(self, expected, got):
        self.expected, self.key = expected, got
        super().__init__(f"HOST KEY CHANGED: expected {fingerprint(expected)}, got {fingerprint(got)}")


class AuthenticationFailed(SSHFailure):
    alive = True


class CommandFailed(SSHFailure):
    alive = True


class BadPrivateKey(ValueError):
    """The stored private key cannot be read (wrong format or passphrase)."""


@dataclass
class SSHResult:
    stdout: str
    exit_status: int
    host_key_type: str
    host_key: str  # base64


class RefuseUnknownKeys(paramiko.MissingHostKeyPolicy):
    """Never add a key: refuse the connection, handing the offered key to the caller."""

    def missing_host_key(self, client, hostname, key):
        raise UnknownHostKey(key)


def key_type(key):
    return key.get_name()


def fingerprint(key):
    """SHA256:<base64, no padding>, as `ssh-keygen -l` prints it."""
    return fingerprint_of_blob(key.asbytes())


def fingerprint_of_blob(blob: bytes):
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def public_key_from(key_type_name, key_base64):
    """A paramiko key object from a known_hosts style (type, base64) pair."""
    return paramiko.PKey.from_type_string(key_type_name, base64.b64decode(key_base64))


def parse_public_key_line(line):
    """('ssh-ed25519', 'AAAA…') from an OpenSSH public key line; ValueError if it is not one."""
    parts = line.strip().split()
    if len(parts) < 2:
        raise ValueError("expected '<type> <base64 key> [comment]'")
    try:
        public_key_from(parts[0], parts[1])
    except Exception as exc:  # paramiko raises several kinds for a bad blob
        raise ValueError(f"not a valid {parts[0]} public key") from exc
    return parts[0], parts[1]


def load_private_key(text, passphrase=None):
    """A paramiko key from the text of an OpenSSH or PEM private key."""
    errors = []
    for key_class in KEY_CLASSES:
        try:
            return key_class.from_private_key(io.StringIO(text), password=passphrase or None)
        except paramiko.PasswordRequiredException as exc:
            raise BadPrivateKey("the private key is encrypted and no passphrase is stored") from exc
        except (paramiko.SSHException, ValueError) as exc:
            errors.append(str(exc))
    raise BadPrivateKey("not a private key paramiko can read (OpenSSH or PEM; ed25519, ECDSA or RSA)")


def known_hosts_name(address, port):
    return address if port == 22 else f"[{address}]:{port}"


def run(address, port, username, pkey, trusted_keys, command, timeout):
    """Log in and run `command` within `timeout` seconds in all.

    trusted_keys: [(key type, base64)] the host may present. Raises an SSHFailure."""
    deadline = time.monotonic() + timeout

    def remaining():
        left = deadline - time.monotonic()
        if left <= 0:
            raise Unreachable(f"no complete answer within {timeout:g}s")
        return left

    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(RefuseUnknownKeys())
    name = known_hosts_name(address, port)
    for trusted_type, trusted_base64 in trusted_keys:
        client.get_host_keys().add(name, trusted_type, public_key_from(trusted_type, trusted_base64))
    try:
        try:
            client.connect(
                address, port=port, username=username, pkey=pkey, timeout=remaining(), banner_timeout=remaining(),
                auth_timeout=remaining(), channel_timeout=remaining(), allow_agent=False, look_for_keys=False,
            )
        except paramiko.BadHostKeyException as exc:
            raise HostKeyChanged(exc.expected_key, exc.key) from exc
        except paramiko.AuthenticationException as exc:
            raise AuthenticationFailed(f"authentication as {username} refused: {exc}") from exc
        except TimeoutError as exc:
            raise Unreachable(f"{address}:{port} did not answer within {timeout:g}s") from exc
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise Unreachable(f"{address}:{port}: {_describe(exc)}") from exc
        server_key = client.get_transport().get_remote_server_key()
        stdout, status = _execute(client, command, remaining)
        return SSHResult(stdout, status, server_key.get_name(), server_key.get_base64())
    finally:
        client.close()


def _execute(client, command, remaining):
    try:
        channel = client.get_transport().open_session(timeout=remaining())
        channel.settimeout(min(remaining(), 2.0))
        channel.exec_command(command)
        chunks = []
        while True:
            try:
                data = channel.recv(65536)
            except TimeoutError:
                remaining()  # raises once the deadline passed
                continue
            if not data:
                break
            chunks.append(data)
            remaining()
        while not channel.exit_status_ready():
            remaining()
            time.sleep(0.01)
        return b"".join(chunks).decode(errors="replace"), channel.recv_exit_status()
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise CommandFailed(f"logged in but the command failed: {_describe(exc)}") from exc


def _describe(exc):
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError) and exc.errors:
        exc = next(iter(exc.errors.values()))  # the socket's own error says more (refused, no route)
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text[:300]
