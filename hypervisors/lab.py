"""The lab: real libvirt hypervisors on this one machine.

Each lab host is its own `libvirtd` + `virtlogd` inside a private mount and UTS
namespace (own hostname, own tmpfs state directories, own copy of /etc/libvirt),
listening on its own TCP port on 127.0.0.1 and running QEMU guests under TCG. All
hosts see one shared storage directory for guest disks, so cold and live migration
and HA restarts work as on a real cluster with shared storage.

The lab remembers what it started in <var>/lab/state.json and stops exactly those
processes: every process living in a lab host's mount namespace, found by the
namespace inode recorded at start. Nothing else on the machine is touched.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_HOSTS = ("hv1", "hv2", "hv3", "hv4")
STATE_DIRS = ("/run/libvirt", "/var/lib/libvirt", "/var/log/libvirt", "/var/cache/libvirt")
REQUIRED_BINARIES = ("libvirtd", "virtlogd", "unshare", "qemu-system-x86_64", "qemu-img")


class LabError(RuntimeError):
    """The lab cannot be started here; the message says why in one line."""


@dataclass
class LabHost:
    name: str
    port: int
    host_uuid: str
    pid: int = 0
    mnt_ns: str = ""
    token: str = ""  # names the host's tmpfs mounts: proves a namespace is still ours

    @property
    def uri(self):
        return f"qemu+tcp://127.0.0.1:{self.port}/system"


class Lab:
    def __init__(self, root: Path, port_base: int = 16600, names=DEFAULT_HOSTS):
        self.root = Path(root)
        self.port_base = port_base
        self.names = tuple(names)
        self.state_file = self.root / "state.json"
        self.shared_storage = self.root / "shared"

    # ----- state ---------------------------------------------------------
    def load(self) -> dict[str, LabHost]:
        if not self.state_file.exists():
            return {}
        data = json.loads(self.state_file.read_text())
        return {name: LabHost(**host) for name, host in data["hosts"].items()}

    def save(self, hosts: dict[str, LabHost]):
        self.root.mkdir(parents=True, exist_ok=True)
        data = {"shared_storage": str(self.shared_storage), "hosts": {n: asdict(h) for n, h in hosts.items()}}
        self.state_file.write_text(json.dumps(data, indent=2))

    def status(self) -> dict[str, bool]:
        return {name: host_alive(host) for name, host in self.load().items()}

    # ----- up --------------------------------------------------------------
    def up(self, log=print) -> dict[str, LabHost]:
        check_prerequisites()
        ensure_qemu_identity()
        hosts = self.load()
        self.shared_storage.mkdir(parents=True, exist_ok=True)
        for index, name in enumerate(self.names):
            host = hosts.get(name)
            if host and host_alive(host):
                log(f"lab: {name} already running ({host.uri})")
                continue
            if host:
                self._kill_namespace(host)
            host = LabHost(name=name, port=self.port_base + index, host_uuid=str(uuid.uuid4()),
                           token=f"opslab-{name}-{uuid.uuid4().hex[:12]}")
            self._start(host, index)
            hosts[name] = host
            self.save(hosts)
            log(f"lab: {name} up at {host.uri}")
        return hosts

    def _start(self, host: LabHost, index: int):
        if port_open(host.port):
            raise LabError(f"port {host.port} for lab host {host.name} is taken by another process; "
                           "set OPSCONSOLE_LAB_PORT_BASE to a free range")
        etc = self.root / host.name / "etc"
        if etc.exists():
            shutil.rmtree(etc)
        shutil.copytree("/etc/libvirt", etc)
        (etc / "libvirtd.conf").write_text(
            "listen_tls = 0\nlisten_tcp = 1\n"
            f'listen_addr = "127.0.0.1"\ntcp_port = "{host.port}"\nauth_tcp = "none"\n'
            f'host_uuid = "{host.host_uuid}"\n'
            "keepalive_interval = 5\nkeepalive_count = 5\n"
        )
        # Each host gets its own port ranges so guests' VNC and incoming migrations
        # never collide on the one shared network stack.
        span = 50
        base = 20000 + index * 3 * span
        (etc / "qemu.conf").write_text(
            'user = "root"\ngroup = "root"\nvnc_listen = "127.0.0.1"\n'
            f"remote_display_port_min = {5900 + index * span}\nremote_display_port_max = {5900 + (index + 1) * span - 1}\n"
            f"migration_port_min = {base}\nmigration_port_max = {base + span - 1}\n"
            f"remote_websocket_port_min = {base + span}\nremote_websocket_port_max = {base + 2 * span - 1}\n"
        )
        mounts = "\n".join(f"mkdir -p {d} && mount -t tmpfs {host.token} {d}" for d in STATE_DIRS)
        script = f"""set -e
hostname {host.name}
{mounts}
mount --bind {etc} /etc/libvirt
virtlogd -d -p /run/libvirt/virtlogd-lab.pid
exec libvirtd --listen -f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd-lab.pid
"""
        log_file = open(self.root / host.name / "libvirtd.log", "w")
        proc = subprocess.Popen(
            ["unshare", "--mount", "--uts", "--propagation", "private", "bash", "-c", script],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        host.pid = proc.pid
        deadline = time.monotonic() + 30
        while not port_open(host.port):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (self.root / host.name / "libvirtd.log").read_text()[-800:]
                raise LabError(f"libvirtd for lab host {host.name} did not start: {tail.strip().splitlines()[-1:]}")
            time.sleep(0.1)
        host.mnt_ns = os.readlink(f"/proc/{proc.pid}/ns/mnt")

    # ----- down ------------------------------------------------------------
    def down(self, log=print):
        hosts = self.load()
        for host in hosts.values():
            killed = self._kill_namespace(host)
            log(f"lab: {host.name} down ({killed} processes stopped)")
        if self.state_file.exists():
            self.state_file.unlink()

    def _kill_namespace(self, host: LabHost) -> int:
        pids = namespace_pids(host) if host.mnt_ns else []
        # Guests first (as a power cut would), then the daemons.
        ordered = sorted(pids, key=lambda pid: 0 if "qemu" in _comm(pid) else 1)
        for pid in ordered:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
            time.sleep(0.1)
        for pid in pids:
            _signal(pid, signal.SIGKILL)
        _reap(pids)
        return len(pids)


# ----- helpers -----------------------------------------------------------------
def check_prerequisites():
    if os.geteuid() != 0:
        raise LabError("the lab needs root (it mounts namespaces and runs libvirtd); run it as root")
    missing = [b for b in REQUIRED_BINARIES if shutil.which(b) is None]
    if missing:
        raise LabError(
            f"the lab needs {', '.join(missing)}: install libvirt-daemon-driver-qemu qemu-system-x86 qemu-utils (make lab does)"
        )


def ensure_qemu_identity():
    """libvirt's QEMU driver resolves its build-time default user and group (libvirt-qemu)
    before it reads qemu.conf; the lab runs guests as root but the names must exist."""
    if subprocess.run(["getent", "group", "libvirt-qemu"], capture_output=True).returncode != 0:
        subprocess.run(["groupadd", "--system", "libvirt-qemu"], check=True)
    if subprocess.run(["getent", "passwd", "libvirt-qemu"], capture_output=True).returncode != 0:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "-g", "libvirt-qemu", "libvirt-qemu"],
            check=True,
        )


def port_open(port, host="127.0.0.1"):
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def host_alive(host: LabHost):
    return (bool(host.pid) and _alive(host.pid) and _ns(host.pid) == host.mnt_ns and _ours(host.pid, host)
            and port_open(host.port))


def namespace_pids(host: LabHost):
    """Every process in the host's mount namespace, provided the namespace still carries
    the host's token (namespace inode numbers are reused once a namespace is gone)."""
    pids = [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit() and _ns(int(e.name)) == host.mnt_ns]
    return [pid for pid in pids if _ours(pid, host)]


def _ours(pid, host: LabHost):
    if not host.token:
        return False
    try:
        return host.token in Path(f"/proc/{pid}/mountinfo").read_text()
    except OSError:
        return False


def _ns(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _comm(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _reap(pids):
    """Collect our own children (libvirtd was started by this process in `up`)."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
