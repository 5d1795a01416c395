"""BMC reachability. Honest about what it proves: an RMCP presence pong means the BMC's
IPMI service answers; an accepted (or refused) TCP connection to its web/Redfish port or
an ICMP echo reply means only that something answers at the BMC's address. None of
these proves the BMC could power the host off: that is the fence agent's test."""

import time

from core.addresses import is_host_address

from ..drivers import net
from .base import Outcome, Stopwatch


def probe(target, timeout, rmcp_port, tcp_ports):
    watch = Stopwatch()
    deadline = time.monotonic() + timeout
    address = target.bmc_address
    if not is_host_address(address):
        # Typed into the inventory by hand; it becomes a socket address and a ping argument.
        return [Outcome("bmc", False, None, f"BMC address {address!r} is not an IP address or host name: "
                        "nothing was probed", duration_ms=watch.ms)]
    tried = []

    def left():
        return max(0.05, deadline - time.monotonic())

    attempts = [lambda: net.rmcp_ping(address, rmcp_port, min(left(), 2.0))]
    attempts += [lambda port=port: net.tcp_probe(address, port, left()) for port in tcp_ports]
    attempts.append(lambda: net.icmp_ping(address, left()))
    for attempt in attempts:
        if deadline - time.monotonic() <= 0.05:
            break
        result = attempt()
        if result is None:
            continue  # no ping binary on this machine
        tried.append(result.detail)
        if result.answered:
            value = {"via": result.detail, "ipmi": "RMCP presence pong" in result.detail}
            return [Outcome("bmc", True, None, f"BMC {address} answers: {result.detail}", value, watch.ms)]
    return [Outcome("bmc", False, None, f"BMC {address} does not answer: {'; '.join(tried) or 'nothing tried'}",
                    duration_ms=watch.ms)]
