import os
from pathlib import Path

from django.conf import settings

from .lab import DEFAULT_HOSTS, Lab


def configured_lab() -> Lab:
    """The lab of this installation: state under var/lab, ports from OPSCONSOLE_LAB_PORT_BASE."""
    names = os.environ.get("OPSCONSOLE_LAB_HOSTS")
    return Lab(
        root=Path(settings.VAR_DIR) / "lab",
        port_base=int(os.environ.get("OPSCONSOLE_LAB_PORT_BASE", "16600")),
        names=tuple(n.strip() for n in names.split(",")) if names else DEFAULT_HOSTS,
    )
