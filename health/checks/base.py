"""What a check is handed (a Target: plain data, no ORM) and what it hands back (Outcomes).

Checks run in worker threads of a sweep: they talk to the outside through the drivers
and never touch the database. The sweep turns their outcomes into rows.
"""

import time
from dataclasses import dataclass, field


@dataclass
class SSHAccess:
    credential: str
    username: str
    port: int
    pkey: object  # a paramiko key, parsed once per sweep
    trusted_keys: list  # [(key type, base64)]


@dataclass
class Target:
    host_id: int
    hostname: str
    address: str | None = None
    ssh: SSHAccess | None = None
    libvirt_uri: str | None = None
    ports: list = field(default_factory=list)  # [(port, label)]
    bmc_address: str = ""


@dataclass
class OfferedKey:
    """A host key the SSH server offered that is not trusted (new, or a changed one)."""

    key_type: str
    key: str  # base64
    fingerprint: str
    replaces: str = ""  # the trusted fingerprint it differs from, for a changed key


@dataclass
class Outcome:
    check: str
    ok: bool
    alive: bool | None  # True: the host answered; False: it did not; None: says nothing
    message: str
    value: dict = field(default_factory=dict)
    duration_ms: int = 0
    offered_key: OfferedKey | None = None


class Stopwatch:
    def __init__(self):
        self.started = time.monotonic()

    @property
    def ms(self):
        return int((time.monotonic() - self.started) * 1000)
