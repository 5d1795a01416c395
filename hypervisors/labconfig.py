import os
from pathlib import Path

from django.conf import settings

from .lab import DEFAULT_HOSTS, Lab


def configured_lab() -> Lab:
    """The lab of this installation: state under var/lab, its hosts on 198.18.<OPSCONSOLE_LAB_NET>.0/24."""
    names = os.environ.get("OPSCONSOLE_LAB_HOSTS")
    return Lab(
        root=Path(settings.VAR_DIR) / "lab",
        net_index=int(os.environ.get("OPSCONSOLE_LAB_NET", "250")),
        names=tuple(n.strip() for n in names.split(",")) if names else DEFAULT_HOSTS,
    )
