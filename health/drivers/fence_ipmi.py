"""IPMI fence agent: `ipmitool -I lanplus … chassis power off`, then `chassis power status`
until the BMC says off. The password goes through the environment (-E), never the
command line. A BMC that does not answer (it lost power with the host, or the network to
it is cut) leaves the power state unknown: a failed fence, never a success."""

import os
import re
import subprocess
import time

from .fence_base import UNKNOWN, FenceResult, poll_until_off

STATUS = re.compile(r"Chassis Power is (on|off)", re.IGNORECASE)


def power_off(address, username, password, timeout) -> FenceResult:
    result = FenceResult()
    deadline = time.monotonic() + timeout
    answer = _ipmitool(address, username, password, ["chassis", "power", "off"], deadline)
    result.step(f"chassis power off: {answer}")
    poll_until_off(lambda: _status(address, username, password, deadline), deadline, result, interval=1.0)
    return result


def power_status(address, username, password, timeout):
    """(state, detail, line) of one `chassis power status`."""
    return _status(address, username, password, time.monotonic() + timeout)


def _status(address, username, password, deadline):
    answer = _ipmitool(address, username, password, ["chassis", "power", "status"], deadline)
    match = STATUS.search(answer)
    state = match.group(1).lower() if match else UNKNOWN
    return state, {"bmc": address, "answer": answer}, f"chassis power status: {answer}"


def _ipmitool(address, username, password, arguments, deadline):
    """One ipmitool call within what is left of the deadline, as one line of text:
    its output, or why there was none."""
    command = ["ipmitool", "-I", "lanplus", "-H", address, "-E", "-N", "1", "-R", "1"]
    if username:
        command += ["-U", username]
    remaining = max(deadline - time.monotonic(), 0.5)
    try:
        done = subprocess.run(command + arguments, capture_output=True, text=True, timeout=remaining,
                              env={**os.environ, "IPMI_PASSWORD": password or ""}, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        return "ipmitool is not installed on this machine"
    except subprocess.TimeoutExpired:
        return f"no answer from the BMC within {remaining:.0f} s"
    text = " ".join((done.stdout.strip() + " " + done.stderr.strip()).split())[:300]
    if done.returncode != 0:
        return f"failed (exit {done.returncode}): {text or 'no output'}"
    return text or "no output"

