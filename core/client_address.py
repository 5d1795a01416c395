"""The address a request came from, as far as the server can vouch for it.

REMOTE_ADDR is the peer of the connection. X-Forwarded-For is written by whoever sends the
request, so it is believed only from the proxies named in TRUSTED_PROXIES
(OPSCONSOLE_TRUSTED_PROXIES), and only as far back as those proxies reach: a client's own
entries to the left of the last untrusted hop are never read. Whatever is returned is a
valid IP address (or None), so it can go into an inet column on PostgreSQL.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings


def parse_ip(value):
    """`value` as a normalised IP address string, or None if it is not one. Ports
    ("192.0.2.1:443", "[2001:db8::1]:443") and IPv6 zone ids are dropped."""
    text = str(value or "").strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with a port; a bare IPv6 address has several colons
        text = text.partition(":")[0]
    text = text.partition("%")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


@lru_cache(maxsize=8)
def _networks(entries):
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def trusted_proxies():
    """TRUSTED_PROXIES as networks (a bad entry is a configuration error, raised loudly)."""
    entries = getattr(settings, "TRUSTED_PROXIES", ())
    if isinstance(entries, str):
        entries = entries.split(",")
    return _networks(tuple(entry.strip() for entry in entries if entry.strip()))


def is_trusted_proxy(address):
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in trusted_proxies())


def client_address(request):
    """The client's IP address: the peer, or the forwarded one when the peer (and every
    hop between) is a trusted proxy. An unreadable hop stops the walk at the proxy that
    reported it."""
    address = parse_ip(request.META.get("REMOTE_ADDR"))
    if not is_trusted_proxy(address):
        return address
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        hop_address = parse_ip(hop)
        if hop_address is None:
            return address
        address = hop_address
        if not is_trusted_proxy(address):
            return address
    return address


def client_port(request):
    """The client's port: X-Forwarded-Port from a trusted proxy, else the peer's port;
    None unless it is a real port number."""
    peer = parse_ip(request.META.get("REMOTE_ADDR"))
    value = request.META.get("HTTP_X_FORWARDED_PORT") if is_trusted_proxy(peer) else request.META.get("REMOTE_PORT")
    try:
        port = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return port if 0 < port <= 65535 else None
