"""The lab's power switch as a fence agent: pull the lab host's plug (every process of the
host dies), then read the power back from the machine itself (no process of the host
left, its port closed: libvirt's on a hypervisor, sshd's on a physical host). A lab the
agent cannot find, or a host still showing signs of life at the deadline, is a failed
fence."""

import time
from pathlib import Path

from .fence_base import UNKNOWN, FenceResult, poll_until_off


def _lab(lab_root):
    from hypervisors.lab import Lab
    from hypervisors.labconfig import configured_lab

    return Lab(root=Path(lab_root)) if lab_root else configured_lab()


def power_off(lab_root, name, timeout) -> FenceResult:
    from hypervisors.lab import LabError

    result = FenceResult()
    deadline = time.monotonic() + timeout
    lab = _lab(lab_root)
    try:
        killed = lab.power_off(name)
        result.step(f"power switch of lab host {name} ({lab.root}): off, {killed} processes stopped")
    except (LabError, OSError) as exc:
        result.step(f"power switch of lab host {name} ({lab.root}): {exc}")
    poll_until_off(lambda: power_status(lab_root, name), deadline, result, interval=0.2)
    return result


def power_status(lab_root, name):
    """(state, detail, line) as read from the machine."""
    from hypervisors.lab import LabError

    try:
        seen = _lab(lab_root).power_state(name)
    except (LabError, OSError, ValueError) as exc:
        return UNKNOWN, {"error": str(exc)}, f"cannot read the power state of {name}: {exc}"
    port = next(key for key in seen if key.endswith("_port_open"))  # libvirt_port_open, ssh_port_open
    line = (f"{seen['state']} ({seen['processes']} processes of the host left, {port.removesuffix('_port_open')} "
            f"port {'open' if seen[port] else 'closed'})")
    return seen["state"], seen, line
