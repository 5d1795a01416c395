"""The lab: real libvirt hypervisors and physical hosts on this one machine, each a small
host of its own.

Each lab host lives in its own network namespace (a veth pair to a lab bridge in the
machine's namespace, its own address in 198.18.N.0/24, the range reserved for network
benchmarks, so it never collides with a real network) and its own mount and UTS
namespace (own hostname, own tmpfs state directories, own copy of /etc/libvirt). In it
run `virtlogd`, `libvirtd` (TCP on the host's address) with QEMU guests under TCG, and
an `sshd` that takes the lab's key. All hosts see one shared storage directory for guest
disks, so live migration and HA restarts work as on a cluster with shared storage; each
host's QEMU takes its disks' leases through its own `virtlockd` (libvirt's lockd lock
manager) in a lockspace on that storage, so a second QEMU on a disk is refused.

Physical hosts (the demo's app server luna and database server superman) share all of
this but libvirtd: they have a disk of their own and run the demo's services on it
instead (hypervisors.lab_physical).

Faults are injected the way they happen: power off (every process of the host dies),
partition (its link goes down, processes live), slow (its link is rate-limited; this
kernel has no netem, so a token bucket stands in for delay), hang (its processes are
frozen with SIGSTOP), and power on again. `power_state` reads the power back the way
the lab fence agent needs: off only when no process of the host is left.

The lab remembers what it started in <var>/lab/state.json and stops exactly that: the
processes of each host's mount namespace (found by the namespace inode and a token in
the host's mounts, since inode numbers are reused), its network namespace and bridge.
Traffic only ever goes to these namespaces.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

from . import lab_physical
from .lab_run import LabError
from .lab_run import run as _run

DEFAULT_HOSTS = ("hv1", "hv2", "hv3", "hv4")
STATE_DIRS = ("/run/libvirt", "/var/lib/libvirt", "/var/log/libvirt", "/var/cache/libvirt")
REQUIRED_BINARIES = ("libvirtd", "virtlogd", "virtlockd", "unshare", "qemu-system-x86_64", "qemu-img", "ip", "tc",
                     "ssh-keygen")
LIBVIRT_PORT = 16509
SSH_PORT = 22
BOOT_TIMEOUT = 60  # seconds; a database server's first boot makes its cluster and loads its data
HYPERVISOR, PHYSICAL = "hypervisor", "physical"


@dataclass
class LabHost:
    name: str
    address: str
    host_uuid: str
    netns: str
    veth: str  # the machine-side end of the host's link
    token: str  # names the host's tmpfs mounts: proves a mount namespace is still ours
    pid: int = 0
    mnt_ns: str = ""
    ssh_host_key: str = ""  # public host key, for the console's trust step
    kind: str = HYPERVISOR  # or PHYSICAL
    service: str = ""  # a physical host's: "database", "app" or none (lab_physical.SERVICE_PORTS)
    disk_device: str = ""  # a physical host's loop device, e.g. "loop3"

    @property
    def port(self):
        """The port that says the host is up: libvirt's, or a physical host's sshd."""
        return LIBVIRT_PORT if self.kind == HYPERVISOR else SSH_PORT

    @property
    def port_name(self):
        return "libvirt" if self.kind == HYPERVISOR else "ssh"

    @property
    def ready_ports(self):
        """What answers once the host has booted."""
        if self.kind == HYPERVISOR:
            return (LIBVIRT_PORT, SSH_PORT)
        return tuple(p for p in (SSH_PORT, lab_physical.SERVICE_PORTS[self.service]) if p)

    @property
    def uri(self):
        if self.kind != HYPERVISOR:
            raise LabError(f"{self.name} is a physical lab host: it runs no libvirt")
        return f"qemu+tcp://{self.address}/system"

    @property
    def test_uri(self):
        """libvirt's test driver, served by the same libvirtd: a shared fake hypervisor."""
        return f"test+tcp://{self.address}/default"


class Lab:
    def __init__(self, root: Path, port_base: int = 16600, names=DEFAULT_HOSTS, net_index=None, physical=(),
                 disk_size=lab_physical.DISK_SIZE):
        """`names` are the hypervisors; `physical` the physical hosts, as names or as a
        mapping of name to service (lab_physical.DEMO_PHYSICAL)."""
        self.root = Path(root)
        self.names = tuple(names)
        self.physical = dict(physical) if isinstance(physical, Mapping) else dict.fromkeys(physical, "")
        unknown = {s for s in self.physical.values() if s not in lab_physical.SERVICE_PORTS}
        if unknown or set(self.names) & set(self.physical):
            raise LabError(f"lab hosts: unknown services {sorted(unknown)} or a name used twice")
        self.disk_size = disk_size
        # One /24, one bridge and one namespace prefix per lab, so several labs (a demo,
        # parallel test runs, a benchmark) can run side by side.
        self.net_index = net_index if net_index is not None else 1 + port_base % 249
        self.bridge = f"opslab{self.net_index}"
        self.gateway = f"198.18.{self.net_index}.1"
        self.state_file = self.root / "state.json"
        self.shared_storage = self.root / "shared"
        self.ssh_key = self.root / "ssh" / "id_ed25519"
        self.lockspace = self.shared_storage / "lockd"

    # ----- state ---------------------------------------------------------
    def load(self) -> dict[str, LabHost]:
        if not self.state_file.exists():
            return {}
        data = json.loads(self.state_file.read_text())
        return {name: _host_from_state(host) for name, host in data["hosts"].items()}

    def save(self, hosts: dict[str, LabHost]):
        self.root.mkdir(parents=True, exist_ok=True)
        data = {"shared_storage": str(self.shared_storage), "bridge": self.bridge, "ssh_key": str(self.ssh_key),
                "hosts": {n: asdict(h) for n, h in hosts.items()}}
        self.state_file.write_text(json.dumps(data, indent=2))

    def status(self) -> dict[str, bool]:
        return {name: host_alive(host) for name, host in self.load().items()}

    def host(self, name) -> LabHost:
        hosts = self.load()
        if name not in hosts:
            raise LabError(f"no lab host named {name}")
        return hosts[name]

    def hypervisors(self) -> dict[str, LabHost]:
        return {name: host for name, host in self.load().items() if host.kind == HYPERVISOR}

    def _layout(self):
        """(name, kind, service, address) of every host this lab is made of, in start order."""
        entries = [(n, HYPERVISOR, "") for n in self.names] + [(n, PHYSICAL, s) for n, s in self.physical.items()]
        return [(name, kind, service, f"198.18.{self.net_index}.{11 + index}")
                for index, (name, kind, service) in enumerate(entries)]

    # ----- up --------------------------------------------------------------
    def up(self, log=print) -> dict[str, LabHost]:
        check_prerequisites(set(self.physical.values()) if self.physical else None)
        ensure_qemu_identity()
        self.lockspace.mkdir(parents=True, exist_ok=True)
        self._ensure_ssh_key()
        self._ensure_bridge()
        self._write_name_files()
        hosts = self.load()
        for index, (name, kind, service, address) in enumerate(self._layout()):
            host = hosts.get(name)
            if host and host_alive(host):
                log(f"lab: {name} already running ({_describe(host)})")
                continue
            if host:
                self._power_off(host)
            host = hosts[name] = self._new_host(name, index, address, kind, service)
            self._start(host)
            self.save(hosts)
            log(f"lab: {name} up ({_describe(host)}), ssh root@{host.address}")
        return hosts

    def _new_host(self, name, index, address, kind, service):
        return LabHost(
            name=name, address=address, host_uuid=str(uuid.uuid4()),
            netns=f"{self.bridge}-{name}", veth=f"ol{self.net_index}h{index}",
            token=f"opslab-{name}-{uuid.uuid4().hex[:12]}", kind=kind, service=service,
        )

    def _write_name_files(self):
        """/etc/hosts and /etc/resolv.conf for the hosts' namespaces: lab names resolve at
        once, anything else fails at once (no DNS server is reachable from a lab host, and
        libvirt looks its own hostname up during migration)."""
        lines = ["127.0.0.1 localhost"] + [f"{address} {name}" for name, _, _, address in self._layout()]
        (self.root / "hosts").write_text("\n".join(lines) + "\n")
        (self.root / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")

    def _ensure_ssh_key(self):
        if not self.ssh_key.exists():
            self.ssh_key.parent.mkdir(parents=True, exist_ok=True)
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "opsconsole-lab", "-f", str(self.ssh_key)])

    def _ensure_bridge(self):
        # Lab addresses must never leave the machine: with a lab (or one of its bridges)
        # down, the whole reserved range is unreachable instead of going to the default route.
        if "198.18.0.0/15" not in _run(["ip", "route", "show", "type", "unreachable"]):
            _run(["ip", "route", "add", "unreachable", "198.18.0.0/15"])
        if not _link_exists(self.bridge):
            _run(["ip", "link", "add", self.bridge, "type", "bridge"])
            _run(["ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge])
        _run(["ip", "link", "set", self.bridge, "up"])

    def _plug(self, host: LabHost):
        """The host's network namespace and its link to the lab bridge."""
        _remove_netns(host.netns)
        if _link_exists(host.veth):
            # Tolerant: the link may vanish meanwhile with the namespace just deleted.
            subprocess.run(["ip", "link", "del", host.veth], capture_output=True)
        _run(["ip", "netns", "add", host.netns])
        _run(["ip", "link", "add", host.veth, "type", "veth", "peer", "name", f"{host.veth}n"])
        _run(["ip", "link", "set", f"{host.veth}n", "netns", host.netns])
        _run(["ip", "link", "set", host.veth, "master", self.bridge, "up"])
        inside = ["ip", "netns", "exec", host.netns]
        _run(inside + ["ip", "link", "set", f"{host.veth}n", "name", "eth0"])
        _run(inside + ["ip", "addr", "add", f"{host.address}/24", "dev", "eth0"])
        _run(inside + ["ip", "link", "set", "eth0", "up"])
        _run(inside + ["ip", "link", "set", "lo", "up"])
        _run(inside + ["ip", "route", "add", "default", "via", self.gateway])
        # A host plugged in again has a new MAC: forget the old one, which the machine would
        # otherwise keep using for as long as its neighbour entry looks reachable (up to ~45 s).
        subprocess.run(["ip", "neigh", "flush", "to", host.address], capture_output=True)

    def _write_libvirt_config(self, host: LabHost, index_dir: Path, keep_definitions=False):
        etc = index_dir / "etc"
        definitions, kept = etc / "qemu", index_dir / "qemu-kept"
        if keep_definitions and definitions.exists():
            # A real host keeps its persistent domains (/etc/libvirt/qemu) across a power cycle.
            shutil.rmtree(kept, ignore_errors=True)
            definitions.rename(kept)
        if etc.exists():
            shutil.rmtree(etc)
        shutil.copytree("/etc/libvirt", etc)
        if kept.exists():
            shutil.rmtree(definitions, ignore_errors=True)
            kept.rename(definitions)
        (etc / "libvirtd.conf").write_text(
            "listen_tls = 0\nlisten_tcp = 1\n"
            f'listen_addr = "{host.address}"\ntcp_port = "{LIBVIRT_PORT}"\nauth_tcp = "none"\n'
            f'host_uuid = "{host.host_uuid}"\nkeepalive_interval = 5\nkeepalive_count = 5\n'
        )
        # virtlockd guards every guest disk with a lease in a lockspace on the shared storage:
        # a second QEMU on the same disk (on any lab host) is refused, whatever the console thinks.
        (etc / "qemu.conf").write_text('user = "root"\ngroup = "root"\nvnc_listen = "127.0.0.1"\n'
                                       'lock_manager = "lockd"\n')
        (etc / "qemu-lockd.conf").write_text(
            f'auto_disk_leases = 1\nrequire_lease_for_disks = 1\nfile_lockspace_dir = "{self.lockspace}"\n'
        )
        return etc

    def _write_ssh_config(self, host: LabHost, index_dir: Path, pid_file):
        """The host's sshd (its own host key, the lab's key authorized) and its /etc/hosts."""
        key = index_dir / "ssh_host_ed25519_key"
        if not key.exists():
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", host.name, "-f", str(key)])
        host.ssh_host_key = (index_dir / "ssh_host_ed25519_key.pub").read_text().strip()
        authorized = index_dir / "authorized_keys"
        authorized.write_text(Path(f"{self.ssh_key}.pub").read_text())
        # libvirt resolves the host's own name (getHostname): answer from /etc/hosts, not
        # from a DNS server the namespace cannot reach (a 10 s stall per call otherwise).
        (index_dir / "hosts").write_text(f"127.0.0.1 localhost\n{host.address} {host.name}\n")
        (index_dir / "sshd_config").write_text(
            f"ListenAddress {host.address}\nPort {SSH_PORT}\nHostKey {key}\n"
            f"AuthorizedKeysFile {authorized}\nPidFile {pid_file}\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "UsePAM no\nStrictModes no\nPrintMotd no\nSubsystem sftp internal-sftp\n"
        )
        return index_dir / "sshd_config"

    def _hypervisor_boot(self, host: LabHost, host_dir: Path, keep_definitions):
        etc = self._write_libvirt_config(host, host_dir, keep_definitions)
        sshd_config = self._write_ssh_config(host, host_dir, "/run/libvirt/sshd-lab.pid")
        mounts = "\n".join(f"mkdir -p {d} && mount -t tmpfs {host.token} {d}" for d in STATE_DIRS)
        return f"""{mounts}
mount --bind {etc} /etc/libvirt
mkdir -p /run/sshd
/usr/sbin/sshd -f {sshd_config}
virtlogd -d -p /run/libvirt/virtlogd-lab.pid
virtlockd -d -p /run/libvirt/virtlockd-lab.pid
exec libvirtd --listen -f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd-lab.pid"""

    def _physical_boot(self, host: LabHost, host_dir: Path):
        # Attached again if need be (the host's disk survives power-off): the same disk, the same data.
        host.disk_device = lab_physical.attach_disk(host_dir / lab_physical.DISK_IMAGE, self.disk_size)
        sshd_config = self._write_ssh_config(host, host_dir, "/run/sshd-lab.pid")
        database = next((address for _, kind, service, address in self._layout() if service == "database"), "")
        return lab_physical.boot_script(host, host_dir, sshd_config, database)

    def _start(self, host: LabHost, keep_definitions=False):
        host_dir = self.root / host.name
        host_dir.mkdir(parents=True, exist_ok=True)
        self._plug(host)
        if host.kind == HYPERVISOR:
            boot, log_name = self._hypervisor_boot(host, host_dir, keep_definitions), "libvirtd.log"
        else:
            boot, log_name = self._physical_boot(host, host_dir), "boot.log"
        script = f"""set -e
hostname {host.name}
mount --bind {host_dir / 'hosts'} /etc/hosts
# A home of its own: an SSH session must not run this machine's root shell start-up files
# (a pyenv lock left by a session killed at power-off made every later login wait 60 s).
mount -t tmpfs {host.token} /root
{boot}
"""
        log_file = open(host_dir / log_name, "w")
        # An IPC namespace of its own too: System V segments (PostgreSQL's) die with the host.
        proc = subprocess.Popen(
            ["ip", "netns", "exec", host.netns, "unshare", "--mount", "--uts", "--ipc", "--propagation", "private",
             "bash", "-c", script],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        host.pid = proc.pid
        deadline = time.monotonic() + BOOT_TIMEOUT
        while not all(port_open(port, host.address) for port in host.ready_ports):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (host_dir / log_name).read_text().strip().splitlines()[-1:]
                raise LabError(f"lab host {host.name} did not start: {tail}")
            time.sleep(0.1)
        host.mnt_ns = _ns(proc.pid)

    # ----- faults -------------------------------------------------------------
    def power_off(self, name) -> int:
        """Pull the plug: every process of the host dies at once (guests included)."""
        return self._power_off(self.host(name), graceful=False)

    def power_state(self, name) -> dict:
        """Read the host's power back, as a power switch with metering would: "off" when
        no process of the host is left and its port (libvirt's, a physical host's sshd) is
        closed, "on" otherwise (a partitioned or hung host is on: its processes live)."""
        host = self.host(name)
        pids = namespace_pids(host) if host.mnt_ns else []
        alive = [pid for pid in pids if _alive(pid)]
        answering = port_open(host.port, host.address, timeout=0.3)
        return {"state": "off" if not alive and not answering else "on", "processes": len(alive),
                f"{host.port_name}_port_open": answering}

    def power_on(self, name):
        """Boot a powered-off host again (same address, new daemons; a physical host from its own disk)."""
        hosts = self.load()
        host = hosts[name]
        if host_alive(host):
            return host
        self._power_off(host)
        host.token = f"opslab-{name}-{uuid.uuid4().hex[:12]}"
        self._start(host, keep_definitions=True)
        self.save(hosts)
        return host

    def replace_ssh_host_key(self, name):
        """Give a host a new SSH host key, as a reinstall (or an impostor) would: power off,
        a new key, power on. Returns the host with its new public key."""
        self.power_off(name)
        for suffix in ("", ".pub"):
            (self.root / name / f"ssh_host_ed25519_key{suffix}").unlink(missing_ok=True)
        return self.power_on(name)

    def partition(self, name):
        """Cut the host's link: its processes live on, nobody can reach them."""
        _run(["ip", "link", "set", self.host(name).veth, "down"])

    def slow(self, name, rate="32kbit", latency="2s"):
        """Throttle the host's link to a crawl with a token bucket (no netem in this kernel)."""
        _run(["tc", "qdisc", "replace", "dev", self.host(name).veth, "root", "tbf",
              "rate", rate, "burst", "4kb", "latency", latency])

    def hang(self, name):
        """Freeze every process of the host (SIGSTOP): connections open, nothing answers."""
        for pid in namespace_pids(self.host(name)):
            _signal(pid, signal.SIGSTOP)

    def heal(self, name):
        """Undo partition, slow and hang."""
        host = self.host(name)
        _run(["ip", "link", "set", host.veth, "up"])
        subprocess.run(["tc", "qdisc", "del", "dev", host.veth, "root"], capture_output=True)
        for pid in namespace_pids(host):
            _signal(pid, signal.SIGCONT)
        # While the link was down the machine's neighbour entry for the host went FAILED: a
        # connection right after would get "No route to host" until it expires. Forget it.
        subprocess.run(["ip", "neigh", "flush", "to", host.address], capture_output=True)

    # ----- down ------------------------------------------------------------
    def down(self, log=print):
        hosts = self.load()
        for host in hosts.values():
            killed = self._power_off(host) + _remove_netns(host.netns)
            log(f"lab: {host.name} down ({killed} processes stopped)")
        # A host that failed to start never made it into the state file: its namespace name is ours.
        for name, *_ in self._layout():
            if name not in hosts and _remove_netns(f"{self.bridge}-{name}"):
                log(f"lab: {name} (never fully started) down")
        # Every disk this lab ever attached, whether or not its host made it into the state file.
        for image in sorted(self.root.glob(f"*/{lab_physical.DISK_IMAGE}")):
            try:
                if lab_physical.detach_disk(image):
                    log(f"lab: {image.parent.name}'s disk detached")
            except LabError as exc:
                log(f"lab: {exc}")
        if _link_exists(self.bridge):
            _run(["ip", "link", "del", self.bridge])
        if self.state_file.exists():
            self.state_file.unlink()

    # Kept for callers that predate the fault-injection names.
    def _kill_namespace(self, host: LabHost) -> int:
        return self._power_off(host)

    def _power_off(self, host: LabHost, graceful=True) -> int:
        pids = namespace_pids(host) if host.mnt_ns else []
        for pid in pids:
            _signal(pid, signal.SIGCONT)  # a hung host must be able to die
        if graceful:
            # Guests first (as an orderly shutdown would), then the daemons.
            for pid in sorted(pids, key=lambda pid: 0 if "qemu" in _comm(pid) else 1):
                _signal(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
                time.sleep(0.1)
        for pid in pids:
            _signal(pid, signal.SIGKILL)
        # Dead before we return: a power_on right after must not find the host still "alive".
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            _reap(pids)
            time.sleep(0.02)
        _reap(pids)
        return len(pids)


# ----- helpers -----------------------------------------------------------------
def _host_from_state(entry):
    """A LabHost from state.json, tolerating files written by an older lab version
    (their hosts are then stopped by namespace token and started afresh; hosts of a
    version before physical hosts are hypervisors)."""
    known = {f.name: entry.get(f.name, "" if f.default is MISSING else f.default) for f in fields(LabHost)}
    return LabHost(**known)


def _describe(host: LabHost):
    if host.kind == HYPERVISOR:
        return host.uri
    return f"physical, disk /dev/{host.disk_device} on {lab_physical.MOUNTPOINT}" + (
        f", {host.service} on port {lab_physical.SERVICE_PORTS[host.service]}" if host.service else "")


def check_prerequisites(physical_services=None):
    """Raise LabError naming what is missing; `physical_services` are those of the lab's
    physical hosts (each needs more programs), None when it has none."""
    if os.geteuid() != 0:
        raise LabError("the lab needs root (it creates namespaces and runs libvirtd); run it as root")
    missing = [b for b in REQUIRED_BINARIES if shutil.which(b) is None]
    if not Path("/usr/sbin/sshd").exists():
        missing.append("sshd")
    if physical_services is not None:
        missing += lab_physical.missing_programs(physical_services, shutil.which)
    if missing:
        raise LabError(
            f"the lab needs {', '.join(missing)}: install libvirt-daemon-driver-qemu qemu-system-x86 qemu-utils "
            "iproute2 openssh-server util-linux e2fsprogs postgresql (make lab does)"
        )


def ensure_qemu_identity():
    """libvirt's QEMU driver resolves its build-time default user and group (libvirt-qemu)
    before it reads qemu.conf; the lab runs guests as root but the names must exist."""
    if subprocess.run(["getent", "group", "libvirt-qemu"], capture_output=True).returncode != 0:
        _run(["groupadd", "--system", "libvirt-qemu"])
    if subprocess.run(["getent", "passwd", "libvirt-qemu"], capture_output=True).returncode != 0:
        _run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "-g", "libvirt-qemu",
              "libvirt-qemu"])


def _link_exists(name):
    return subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0


def _netns_exists(name):
    return Path(f"/run/netns/{name}").exists()


def _remove_netns(name):
    """Delete one of our network namespaces, first killing anything still inside it
    (a leftover of an interrupted run: the namespace name is the lab's own)."""
    if not _netns_exists(name):
        return 0
    pids = [int(p) for p in _run(["ip", "netns", "pids", name]).split()]
    for pid in pids:
        _signal(pid, signal.SIGCONT)
        _signal(pid, signal.SIGKILL)
    _reap(pids)
    _run(["ip", "netns", "del", name])
    return len(pids)


def port_open(port, host="127.0.0.1", timeout=0.5):
    with socket.socket() as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0


def host_alive(host: LabHost):
    return (bool(host.pid) and _alive(host.pid) and _ns(host.pid) == host.mnt_ns and _ours(host.pid, host)
            and port_open(host.port, host.address))


def namespace_pids(host: LabHost):
    """Every process of the host: those in its mount namespace and those in namespaces made
    under it (libvirt runs each QEMU in a mount namespace of its own), known by the host's
    token in their mounts (namespace inode numbers are reused once a namespace is gone).
    Missing the QEMUs would leave guests running, holding their disks, after a power-off."""
    machine = _ns(1)
    ours_by_namespace, found = {}, []
    for pid in (int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()):
        namespace = _ns(pid)
        if namespace in (None, machine):
            continue
        # Every process of a mount namespace sees the same mounts: read them once per namespace
        # (unless the process was gone before its mounts could be read: ask the next one).
        ours = ours_by_namespace.get(namespace)
        if ours is None:
            ours = ours_by_namespace[namespace] = _ours(pid, host)
        if ours:
            found.append(pid)
    return found


def _ours(pid, host: LabHost):
    """Whether the process's mounts carry the host's token; None when it cannot be read."""
    if not host.token:
        return False
    try:
        return host.token in Path(f"/proc/{pid}/mountinfo").read_text()
    except OSError:
        return None


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
