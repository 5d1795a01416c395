"""TCP port checks: every port the host's role lists must accept a connection."""

import time

from ..drivers import net
from .base import Outcome, Stopwatch


def probe(target, timeout):
    watch = Stopwatch()
    deadline = time.monotonic() + timeout
    value, failures, answered = {}, [], False
    for port, label in target.ports:
        left = deadline - time.monotonic()
        name = f"{port}{f' ({label})' if label else ''}"
        if left <= 0.05:
            value[str(port)] = False
            failures.append(f"{name}: not tried, out of time")
            continue
        result = net.tcp_probe(target.address, port, left)
        value[str(port)] = result.listening
        answered = answered or result.answered
        if not result.listening:
            failures.append(f"{name}: {result.detail}")
    if failures:
        return [Outcome("tcp", False, True if answered else None, "; ".join(failures), value, watch.ms)]
    ports = ", ".join(str(port) for port, _ in target.ports)
    return [Outcome("tcp", True, True, f"listening on {ports}", value, watch.ms)]
