"""The lab of this installation, and what runs when the QEMU lab cannot.

The QEMU lab needs root (namespaces) and the libvirt/QEMU packages. Where it cannot run,
`choose_lab` says why in one line and falls back to libvirt's test driver served by one
`libvirtd` of our own on 127.0.0.1 (which runs as any user), but only when a libvirtd
is installed. That fallback is one fake hypervisor: domains without guests, no migration.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from .lab import DEFAULT_HOSTS, Lab, LabError, check_prerequisites, port_open
from .lab_physical import DEMO_PHYSICAL

QEMU, TEST_DRIVER, NONE = "qemu", "test-driver", "none"


def configured_lab() -> Lab:
    """The lab of this installation: state under var/lab, its hosts on 198.18.<OPSCONSOLE_LAB_NET>.0/24.
    OPSCONSOLE_LAB_HOSTS names the hypervisors, OPSCONSOLE_LAB_PHYSICAL the physical hosts
    as NAME=SERVICE (or NAME alone: no service), both comma-separated; empty for none."""
    names, physical = os.environ.get("OPSCONSOLE_LAB_HOSTS"), os.environ.get("OPSCONSOLE_LAB_PHYSICAL")
    return Lab(
        root=Path(settings.VAR_DIR) / "lab",
        net_index=int(os.environ.get("OPSCONSOLE_LAB_NET", "250")),
        names=_names(names) if names else DEFAULT_HOSTS,
        physical=_physical(physical) if physical is not None else DEMO_PHYSICAL,
    )


def _names(value):
    return tuple(n.strip() for n in value.split(",") if n.strip())


def _physical(value):
    """"luna=app,superman=database" -> {"luna": "app", "superman": "database"}."""
    return {name.strip(): service.strip() for name, _, service in (n.partition("=") for n in _names(value))}


def configured_fallback() -> "TestDriverLab":
    return TestDriverLab(Path(settings.VAR_DIR) / "lab" / "test-driver")


@dataclass
class LabChoice:
    kind: str  # QEMU, TEST_DRIVER or NONE
    why: str = ""  # why the QEMU lab cannot run here, in one line


def choose_lab(prerequisites=None, which=None) -> LabChoice:
    """Which lab this machine can run. `prerequisites` raises LabError saying what is
    missing (default: the lab's own check); `which` finds a binary on PATH."""
    prerequisites, which = prerequisites or check_prerequisites, which or shutil.which
    try:
        prerequisites()
    except LabError as exc:
        if which("libvirtd") is None:
            return LabChoice(NONE, f"{exc}; libvirtd is not installed either, so there is no test-driver fallback")
        return LabChoice(TEST_DRIVER, str(exc))
    return LabChoice(QEMU)


@dataclass
class FakeHost:
    name: str
    uri: str
    kind: str = "hypervisor"


class TestDriverLab:
    """One libvirtd on 127.0.0.1 serving libvirt's test driver, plus a process holding a
    connection to it (libvirtd resets the test driver once nobody is connected)."""

    name = DEFAULT_HOSTS[0]
    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, root: Path):
        self.root = Path(root)
        self.state_file = self.root / "state.json"
        self.config = self.root / "libvirtd.conf"

    def _state(self):
        return json.loads(self.state_file.read_text()) if self.state_file.exists() else {}

    def uri(self, port):
        return f"test+tcp://127.0.0.1:{port}/default"

    def load(self):
        state = self._state()
        return {self.name: FakeHost(self.name, self.uri(state["port"]))} if state else {}

    def status(self):
        state = self._state()
        if not state:
            return {}
        alive = self._ours(state["pid"]) and self._ours(state["keeper_pid"]) and port_open(state["port"])
        return {self.name: alive}

    def up(self, log=print):
        if self.status().get(self.name):
            log(f"lab: {self.name} already running on the test driver ({self.load()[self.name].uri})")
            return self.load()
        self.down(log=lambda line: None)
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "run").mkdir(exist_ok=True)
        port = _free_port()
        self.config.write_text(
            f'listen_tls = 0\nlisten_tcp = 1\nlisten_addr = "127.0.0.1"\ntcp_port = "{port}"\nauth_tcp = "none"\n'
            f'unix_sock_dir = "{self.root / "run"}"\nhost_uuid = "{uuid.uuid4()}"\n'
        )
        with open(self.root / "libvirtd.log", "w") as log_file:
            daemon = subprocess.Popen(
                ["libvirtd", "--listen", "-f", str(self.config), "-p", str(self.root / "libvirtd.pid")],
                stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                env={**os.environ, "XDG_RUNTIME_DIR": str(self.root / "run"), "HOME": str(self.root)},
            )
        deadline = time.monotonic() + 15
        while not port_open(port):
            if daemon.poll() is not None or time.monotonic() > deadline:
                _stop(daemon.pid)
                raise LabError(f"libvirtd for the test driver did not start; see {self.root / 'libvirtd.log'}")
            time.sleep(0.1)
        uri = self.uri(port)
        keeper = subprocess.Popen(
            [sys.executable, "-c", _KEEPER, uri, str(self.config)], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
        answer = keeper.stdout.readline().decode().strip()
        if answer != "TEST":
            _stop(keeper.pid)
            _stop(daemon.pid)
            raise LabError(f"libvirtd started but does not serve the test driver at {uri}: {answer[:200]}")
        self.state_file.write_text(json.dumps({"pid": daemon.pid, "keeper_pid": keeper.pid, "port": port}))
        log(f"lab: {self.name} up on libvirt's test driver at {uri} (a fake hypervisor: no real guests, no migration)")
        return self.load()

    def down(self, log=print):
        state = self._state()
        stopped = 0
        for key in ("keeper_pid", "pid"):
            if state.get(key) and self._ours(state[key]):
                _stop(state[key])
                stopped += 1
        if state:
            log(f"lab: {self.name} (test driver) down ({stopped} processes stopped)")
        self.state_file.unlink(missing_ok=True)

    def _ours(self, pid):
        """The pid still runs a process of ours (pids are reused): its command line names our config."""
        try:
            return str(self.config).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False


# Holds one connection so the test driver keeps its state; prints the driver type first.
_KEEPER = """import signal, sys, libvirt
libvirt.registerErrorHandler(lambda ctx, err: None, None)
try:
    conn = libvirt.open(sys.argv[1])
    print(conn.getType(), flush=True)
except libvirt.libvirtError as exc:
    print(exc, flush=True)
    sys.exit(1)
signal.pause()
"""


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(pid, timeout=10):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return  # our child, reaped
        except ChildProcessError:
            if not Path(f"/proc/{pid}").exists():
                return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
