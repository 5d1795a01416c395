"""Plain network probes: TCP connects, the RMCP presence ping of IPMI, ICMP echo via `ping`.

Each says exactly what it tested: an accepted TCP connection proves a listener; a refused
one proves only that the address's network stack answers; an RMCP presence pong proves
the BMC's IPMI service answers; an ICMP echo reply proves the address is up.
"""

import errno
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass

# ASF/RMCP presence ping (DMTF DSP0136): RMCP header (version 6, seq 0xff, class ASF),
# ASF IANA 4542, type 0x80 presence ping, tag 0, data length 0.
RMCP_PRESENCE_PING = bytes([0x06, 0x00, 0xFF, 0x06, 0x00, 0x00, 0x11, 0xBE, 0x80, 0x00, 0x00, 0x00])
RMCP_PRESENCE_PONG = 0x40


@dataclass
class Probe:
    answered: bool  # something at the address answered (even a refusal)
    listening: bool  # the service itself answered
    detail: str


def tcp_probe(address, port, timeout) -> Probe:
    started = time.monotonic()
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return Probe(True, True, f"tcp/{port} accepts connections ({_ms(started)} ms)")
    except ConnectionRefusedError:
        return Probe(True, False, f"tcp/{port} refused (the address answers, nothing listens)")
    except TimeoutError:
        return Probe(False, False, f"tcp/{port} no answer within {timeout:g}s")
    except OSError as exc:
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return Probe(False, False, f"tcp/{port} unreachable ({exc.strerror})")
        return Probe(False, False, f"tcp/{port} {exc.strerror or exc}")


def rmcp_ping(address, port, timeout) -> Probe:
    """Send an RMCP presence ping over UDP and wait for the pong."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
            sock.send(RMCP_PRESENCE_PING)
            data = sock.recv(512)
        except ConnectionRefusedError:
            # ICMP port unreachable: the address answers, no IPMI service.
            return Probe(True, False, f"udp/{port} RMCP refused (the address answers, no IPMI service)")
        except TimeoutError:
            return Probe(False, False, f"udp/{port} no RMCP presence pong within {timeout:g}s")
        except OSError as exc:
            return Probe(False, False, f"udp/{port} {exc.strerror or exc}")
    if len(data) >= 9 and data[0] == 0x06 and data[8] == RMCP_PRESENCE_PONG:
        return Probe(True, True, f"udp/{port} RMCP presence pong (IPMI answers)")
    return Probe(True, False, f"udp/{port} answered, but not with an RMCP presence pong")


def icmp_ping(address, timeout) -> Probe | None:
    """One ICMP echo through the system's `ping`; None when there is no `ping` to use."""
    binary = shutil.which("ping")
    if binary is None:
        return None
    wait = max(1, int(round(timeout)))
    try:
        # "--": whatever the address is, ping never reads it as an option.
        result = subprocess.run([binary, "-c", "1", "-W", str(wait), "--", address], capture_output=True,
                                timeout=timeout + 1)
    except subprocess.TimeoutExpired:
        return Probe(False, False, f"no ICMP echo reply within {timeout:g}s")
    if result.returncode == 0:
        return Probe(True, True, "ICMP echo reply")
    return Probe(False, False, "no ICMP echo reply")


def _ms(started):
    return int((time.monotonic() - started) * 1000)
