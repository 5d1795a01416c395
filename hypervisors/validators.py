"""What a hypervisor's libvirt URI may say.

A libvirt URI is more than an address: its query options name programs to run
(command=, netcat=), files to read (keyfile=, pkipath=, known_hosts=, socket=) and checks
to skip (no_verify=, known_hosts_verify=ignore), and its path can make the test driver
load any file. A URI is typed by a user but opened by the worker, so only the parts below
are accepted; the SSH key file and known hosts are the server's (hypervisors.conf) and the
driver adds them itself.
"""

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from django.core.exceptions import ValidationError

from core.addresses import is_host_address

# driver -> the paths it may open: qemu's system or session daemon; the test driver's
# built-in estate only (any other path is a file the driver would load).
DRIVER_PATHS = {"qemu": ("/system", "/session"), "test": ("/default",)}
# Remote transports need a host; "" (none given) means TLS when a host is named, else local.
REMOTE_TRANSPORTS = ("tcp", "tls", "ssh", "libssh", "libssh2")
LOCAL_TRANSPORTS = ("unix",)
SSH_TRANSPORTS = ("ssh", "libssh", "libssh2")
# The only query options a user may give, each with the values it may take (libvirt's
# remote driver, "Extra parameters"):
# - no_tty: stop ssh from asking for a password on a terminal (a worker has none);
# - mode: which daemon the far side connects to (libvirtd or the per-driver daemon).
# Every other option is refused: command, netcat, socket, keyfile, pkipath,
# known_hosts, known_hosts_verify, sshauth, no_verify, tls_priority, name, proxy...
SAFE_OPTIONS = {"no_tty": ("0", "1"), "mode": ("auto", "legacy", "direct")}
USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")

EXAMPLES = "qemu+ssh://root@host/system, qemu+tls://host/system or qemu+tcp://host:16509/system"


@dataclass(frozen=True)
class LibvirtURI:
    driver: str
    transport: str  # "" when none is given
    host: str
    port: int | None
    username: str
    path: str
    options: tuple  # ((name, value), ...) in the order given

    @property
    def is_remote(self):
        return bool(self.host)

    @property
    def uses_ssh(self):
        return self.transport in SSH_TRANSPORTS


def parse_libvirt_uri(value) -> LibvirtURI:
    """The URI's parts, or ValidationError saying what is not allowed."""
    if not isinstance(value, str) or "://" not in value:
        raise ValidationError(f"Enter a libvirt URI such as {EXAMPLES}.", code="invalid_uri")
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise ValidationError("A libvirt URI has no spaces or control characters.", code="invalid_uri")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValidationError(f"Enter a libvirt URI such as {EXAMPLES}.", code="invalid_uri") from None
    driver, _, transport = parts.scheme.partition("+")
    if driver not in DRIVER_PATHS:
        raise ValidationError(
            f"Unknown libvirt driver {driver!r}: use one of {', '.join(DRIVER_PATHS)} ({EXAMPLES}).", code="invalid_uri"
        )
    if transport and transport not in REMOTE_TRANSPORTS + LOCAL_TRANSPORTS:
        raise ValidationError(
            f"Unknown or refused transport {transport!r}: use one of "
            f"{', '.join(REMOTE_TRANSPORTS + LOCAL_TRANSPORTS)}.", code="invalid_uri",
        )
    host = parts.hostname or ""
    _check_authority(parts, host, transport)
    if parts.path not in DRIVER_PATHS[driver]:
        raise ValidationError(
            f"The {driver} driver's path is {' or '.join(DRIVER_PATHS[driver])}, not {parts.path or 'empty'!r}.",
            code="invalid_uri",
        )
    if parts.fragment:
        raise ValidationError("A libvirt URI has no #fragment.", code="invalid_uri")
    return LibvirtURI(driver, transport, host, port, parts.username or "", parts.path, _options(parts.query))


def _check_authority(parts, host, transport):
    if transport in LOCAL_TRANSPORTS and parts.netloc:
        raise ValidationError("A local (unix) libvirt URI names no host: use qemu+unix:///system.", code="invalid_uri")
    if transport in REMOTE_TRANSPORTS and not host:
        raise ValidationError(f"A {transport} libvirt URI needs a host, e.g. {EXAMPLES}.", code="invalid_uri")
    if host and not is_host_address(host):
        raise ValidationError(f"{host!r} is not a host name or IP address.", code="invalid_uri")
    if parts.password is not None:
        raise ValidationError("A libvirt URI carries no password.", code="invalid_uri")
    username = parts.username
    if username is not None and (not username or username[0] == "-" or not set(username) <= USERNAME_CHARS):
        raise ValidationError("The user name may hold letters, digits, '.', '_' and '-' (not first).",
                              code="invalid_uri")


def _options(query):
    # libvirt also splits options on ';' (Python does not): refuse it rather than read
    # "no_tty=1;command=..." differently from libvirt.
    if ";" in query:
        raise ValidationError("Separate libvirt URI options with '&'.", code="invalid_uri")
    try:
        options = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise ValidationError("The URI's options are not name=value pairs.", code="invalid_uri") from None
    for name, option_value in options:
        if name not in SAFE_OPTIONS:
            raise ValidationError(
                f"The libvirt URI option {name!r} is not allowed (only {', '.join(SAFE_OPTIONS)}): "
                "SSH keys and known hosts are the server's settings, never the URI's.", code="invalid_uri",
            )
        if option_value not in SAFE_OPTIONS[name]:
            raise ValidationError(f"{name} is one of {', '.join(SAFE_OPTIONS[name])}.", code="invalid_uri")
    if len({name for name, _ in options}) != len(options):
        raise ValidationError("A libvirt URI option is given twice.", code="invalid_uri")
    return tuple(options)


def validate_libvirt_uri(value):
    parse_libvirt_uri(value)
