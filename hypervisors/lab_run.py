"""The lab's one way to run a command, and its one error: shared by the hypervisors'
and the physical hosts' modules (hypervisors.lab, hypervisors.lab_physical)."""

import subprocess


class LabError(RuntimeError):
    """The lab cannot do what was asked here; the message says why in one line."""


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise LabError(f"{' '.join(command)}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout
