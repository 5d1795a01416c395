"""Is a user's value a network address, and nothing else? Used wherever one becomes a
command argument, a URI or a DSN (a BMC to ping, a libvirt host, a database host), so a
value such as "-oProxyCommand=..." or "/var/run/postgresql" is refused, not passed on."""

import ipaddress
import re

# RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_host_name(value: str) -> bool:
    if not value or len(value) > 253:
        return False
    labels = value[:-1].split(".") if value.endswith(".") else value.split(".")
    return all(_LABEL.match(label) for label in labels)


def is_host_address(value) -> bool:
    """An IP address (v4 or v6, no zone or brackets) or an RFC 1123 host name."""
    return isinstance(value, str) and (is_ip_address(value) or is_host_name(value))
