"""The one place that talks to libvirt.

One cached connection per hypervisor URI per process, with keepalive (which needs
libvirt's event loop registered before the first connection, and a thread running it).
Every connection attempt is bounded: the address is probed with a plain TCP connect
first, so an unreachable hypervisor costs a timeout, not a hung worker.
"""

import logging
import socket
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlparse

import libvirt
from django.core.exceptions import ValidationError

from .. import conf
from ..validators import parse_libvirt_uri

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 5, 3
DEFAULT_PORTS = {"tcp": 16509, "tls": 16514, "ssh": 22, "libssh": 22, "libssh2": 22}

STATE_NAMES = {
    libvirt.VIR_DOMAIN_NOSTATE: "unknown",
    libvirt.VIR_DOMAIN_RUNNING: "running",
    libvirt.VIR_DOMAIN_BLOCKED: "blocked",
    libvirt.VIR_DOMAIN_PAUSED: "paused",
    libvirt.VIR_DOMAIN_SHUTDOWN: "shutting-down",
    libvirt.VIR_DOMAIN_SHUTOFF: "shutoff",
    libvirt.VIR_DOMAIN_CRASHED: "crashed",
    libvirt.VIR_DOMAIN_PMSUSPENDED: "suspended",
}


class HypervisorUnreachable(Exception):
    """The hypervisor did not answer within the timeout."""


class LibvirtFailure(Exception):
    """libvirt refused an operation; the message is libvirt's."""


# ----- event loop ---------------------------------------------------------------
_event_loop_lock = threading.Lock()
_event_loop_started = False


def ensure_event_loop():
    """Register libvirt's default event loop and run it in a daemon thread (once per process)."""
    global _event_loop_started
    with _event_loop_lock:
        if _event_loop_started:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run():
            while True:
                libvirt.virEventRunDefaultImpl()

        threading.Thread(target=run, name="libvirt-events", daemon=True).start()
        _event_loop_started = True


def _silence_libvirt_stderr():
    # libvirt prints every error to stderr as well as raising it; we report them ourselves.
    libvirt.registerErrorHandler(lambda ctx, err: None, None)


_silence_libvirt_stderr()


# ----- connections ----------------------------------------------------------------
_connections: dict[str, libvirt.virConnect] = {}
_connections_lock = threading.Lock()


def probe(uri, timeout=CONNECT_TIMEOUT):
    """Raise HypervisorUnreachable unless the URI's host:port accepts a TCP connection."""
    parsed = urlparse(uri)
    transport = parsed.scheme.split("+", 1)[1] if "+" in parsed.scheme else ""
    if transport not in DEFAULT_PORTS:
        return  # local (unix socket) connection: nothing to probe
    host, port = parsed.hostname or "127.0.0.1", parsed.port or DEFAULT_PORTS[transport]
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise HypervisorUnreachable(f"{host}:{port} does not answer ({exc.strerror or exc})") from exc


def connect(uri, fresh=False):
    """The cached connection to `uri`, reopened if it died."""
    ensure_event_loop()
    with _connections_lock:
        conn = _connections.get(uri)
        if conn is not None and not fresh:
            try:
                if conn.isAlive():
                    return conn
            except libvirt.libvirtError:
                pass
            _close_quietly(conn)
            _connections.pop(uri, None)
        conn = open_connection(uri)
        _connections[uri] = conn
        return conn


def open_connection(uri):
    """A new, uncached connection (probed first, with keepalive), e.g. for an event
    listener that must own its connection. The caller closes it."""
    ensure_event_loop()
    libvirt_uri = with_server_options(uri)
    probe(uri)
    try:
        conn = libvirt.open(libvirt_uri)
    except libvirt.libvirtError as exc:
        raise HypervisorUnreachable(str(exc)) from exc
    if urlparse(uri).scheme.split("+")[-1] in DEFAULT_PORTS:
        try:
            conn.setKeepAlive(KEEPALIVE_INTERVAL, KEEPALIVE_COUNT)
        except libvirt.libvirtError:
            logger.debug("keepalive not supported on %s", uri)
    return conn


def with_server_options(uri):
    """`uri` as libvirt opens it: checked again (a row saved before the URI rules were
    strict must not run a command either) and given the server's SSH key file and known
    hosts, which a URI never names itself."""
    try:
        parsed = parse_libvirt_uri(uri)
    except ValidationError as exc:
        raise HypervisorUnreachable(f"The URI is refused: {' '.join(exc.messages)}") from None
    extra = {}
    if parsed.uses_ssh and conf.setting("LIBVIRT_SSH_KEYFILE"):
        extra["keyfile"] = conf.setting("LIBVIRT_SSH_KEYFILE")
    if parsed.transport in ("libssh", "libssh2") and conf.setting("LIBVIRT_SSH_KNOWN_HOSTS"):
        extra["known_hosts"] = conf.setting("LIBVIRT_SSH_KNOWN_HOSTS")
    if not extra:
        return uri
    return f"{uri}{'&' if parsed.options else '?'}{urlencode(extra)}"


def forget(uri):
    with _connections_lock:
        conn = _connections.pop(uri, None)
    if conn is not None:
        _close_quietly(conn)


def forget_all():
    """Close every cached connection, e.g. before the hypervisors they lead to go away
    (a connection to a vanished address can block the process at exit)."""
    with _connections_lock:
        uris = list(_connections)
    for uri in uris:
        forget(uri)


def _close_quietly(conn):
    try:
        conn.close()
    except libvirt.libvirtError:
        pass


# ----- reading --------------------------------------------------------------------------
@dataclass
class NodeFacts:
    hostname: str
    cpus: int
    memory_mib: int
    libvirt_version: str


@dataclass
class DomainFacts:
    uuid: str
    name: str
    state: str
    vcpus: int
    memory_mib: int
    autostart: bool
    persistent: bool
    disks: list = field(default_factory=list)
    nics: list = field(default_factory=list)


def node_facts(conn) -> NodeFacts:
    info = conn.getInfo()  # [model, memory MiB, cpus, mhz, nodes, sockets, cores, threads]
    version = conn.getLibVersion()
    return NodeFacts(
        hostname=conn.getHostname(),
        cpus=info[2],
        memory_mib=info[1],
        libvirt_version=f"{version // 1_000_000}.{version // 1000 % 1000}.{version % 1000}",
    )


def parse_devices(xml_text):
    root = ET.fromstring(xml_text)
    disks, nics = [], []
    for disk in root.findall("./devices/disk"):
        if disk.get("device", "disk") != "disk":
            continue
        source = disk.find("source")
        driver = disk.find("driver")
        target = disk.find("target")
        path = None
        if source is not None:
            path = source.get("file") or source.get("dev") or source.get("name")
        disks.append({
            "target": target.get("dev") if target is not None else "",
            "path": path,
            "format": driver.get("type") if driver is not None else "",
        })
    for nic in root.findall("./devices/interface"):
        mac = nic.find("mac")
        source = nic.find("source")
        network = ""
        if source is not None:
            network = source.get("network") or source.get("bridge") or source.get("dev") or ""
        nics.append({"mac": mac.get("address") if mac is not None else "", "type": nic.get("type"), "network": network})
    return disks, nics


def domain_facts(dom) -> DomainFacts:
    state, _max_mem, mem_kib, vcpus, _cpu_time = dom.info()
    disks, nics = parse_devices(dom.XMLDesc(0))
    try:
        autostart = bool(dom.autostart())
    except libvirt.libvirtError:
        autostart = False
    return DomainFacts(
        uuid=dom.UUIDString(),
        name=dom.name(),
        state=STATE_NAMES.get(state, "unknown"),
        vcpus=vcpus,
        memory_mib=mem_kib // 1024,
        autostart=autostart,
        persistent=bool(dom.isPersistent()),
        disks=disks,
        nics=nics,
    )


def list_domains(conn) -> list[DomainFacts]:
    facts = []
    for dom in conn.listAllDomains(0):
        try:
            facts.append(domain_facts(dom))
        except libvirt.libvirtError as exc:
            # A domain can vanish between the listing and the look; skip it this round.
            if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                raise
    return facts


def disk_sizes(conn, disks):
    """Fill in each disk's capacity in bytes from the storage pool, when libvirt knows it."""
    for disk in disks:
        if disk.get("path"):
            try:
                disk["size_bytes"] = conn.storageVolLookupByPath(disk["path"]).info()[1]
            except libvirt.libvirtError:
                pass
    return disks


def lookup(conn, uuid):
    try:
        return conn.lookupByUUIDString(str(uuid))
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise


def wait_for_state(dom, wanted, timeout, interval=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if STATE_NAMES.get(dom.state()[0]) in wanted:
            return True
        time.sleep(interval)
    return STATE_NAMES.get(dom.state()[0]) in wanted
