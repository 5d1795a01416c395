"""The change log records the address the server can vouch for: the peer, or the forwarded
one only from a trusted proxy, and never a value that is not an IP address (which would
break every audited write on PostgreSQL's inet column)."""

import pytest
from auditlog.models import LogEntry
from django.test import Client, RequestFactory

from core.client_address import client_address, client_port, parse_ip
from inventory.models import Site
from tests.conftest import token_client

PEER = "198.51.100.7"
PROXY = "127.0.0.1"
GARBAGE = [
    "not-an-address",
    "1.2.3.4.5",
    "999.1.1.1",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "fe80::1%eth0, garbage",
    "2001:db8::1::1",
    "x" * 300,
    ",,,",
    "203.0.113.5, definitely not, 192.0.2.1",
]


def request(remote_addr=PEER, forwarded=None, **meta):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote_addr, **headers, **meta)


@pytest.mark.parametrize("value, expected", [
    ("192.0.2.1", "192.0.2.1"), (" 192.0.2.1 ", "192.0.2.1"), ("192.0.2.1:443", "192.0.2.1"),
    ("[2001:db8::1]:443", "2001:db8::1"), ("2001:DB8:0::1", "2001:db8::1"), ("fe80::1%eth0", "fe80::1"),
    ("", None), (None, None), ("localhost", None), ("256.0.0.1", None), ("1.2.3", None),
])
def test_parse_ip(value, expected):
    assert parse_ip(value) == expected


def test_forwarded_for_from_an_untrusted_peer_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert client_address(request(forwarded="203.0.113.5")) == PEER


def test_forwarded_for_from_a_trusted_proxy_is_believed(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.0/8"]
    assert client_address(request(PROXY, forwarded="203.0.113.5")) == "203.0.113.5"


def test_a_client_cannot_choose_its_address_through_a_trusted_proxy(settings):
    """The proxy appends the address it saw; what the client wrote before that is not read."""
    settings.TRUSTED_PROXIES = [PROXY]
    assert client_address(request(PROXY, forwarded="10.9.9.9, 203.0.113.5")) == "203.0.113.5"


def test_a_chain_of_trusted_proxies_is_walked(settings):
    settings.TRUSTED_PROXIES = [PROXY, "192.0.2.0/24"]
    assert client_address(request(PROXY, forwarded="10.9.9.9, 203.0.113.5, 192.0.2.10")) == "203.0.113.5"


@pytest.mark.parametrize("forwarded", GARBAGE)
def test_garbage_forwarded_for_never_becomes_the_address(settings, forwarded):
    settings.TRUSTED_PROXIES = [PROXY]
    assert client_address(request(PROXY, forwarded=forwarded)) in {PROXY, "203.0.113.5", "192.0.2.1"}
    settings.TRUSTED_PROXIES = []
    assert client_address(request(forwarded=forwarded)) == PEER


def test_a_peer_that_is_not_an_address_records_none():
    assert client_address(request(remote_addr="unix-socket")) is None


def test_ports(settings):
    settings.TRUSTED_PROXIES = [PROXY]
    assert client_port(request(PROXY, HTTP_X_FORWARDED_PORT="51234")) == 51234
    assert client_port(request(PROXY, HTTP_X_FORWARDED_PORT="99999999999999999999")) is None
    assert client_port(request(PROXY, HTTP_X_FORWARDED_PORT="-1")) is None
    assert client_port(request(PEER, HTTP_X_FORWARDED_PORT="51234", REMOTE_PORT="40000")) == 40000


# --- through the real stack, on SQLite and PostgreSQL ----------------------------------------


def last_entry_for(site):
    return LogEntry.objects.get_for_object(site).order_by("-pk").first()


@pytest.mark.parametrize("forwarded", GARBAGE)
def test_api_writes_with_garbage_forwarded_headers_are_logged_with_the_peer(admin_user, site, forwarded):
    client = token_client(admin_user)
    response = client.patch(f"/api/inventory/sites/{site.pk}/", {"name": "Amsterdam"}, format="json",
                            REMOTE_ADDR=PEER, HTTP_X_FORWARDED_FOR=forwarded,
                            HTTP_X_FORWARDED_PORT="99999999999999999999")
    assert response.status_code == 200, response.content
    entry = last_entry_for(site)
    assert (entry.actor, entry.remote_addr, entry.remote_port) == (admin_user, PEER, None)


@pytest.mark.parametrize("forwarded", GARBAGE)
def test_console_writes_with_garbage_forwarded_headers_are_logged_with_the_peer(operator, host, forwarded):
    client = Client(REMOTE_ADDR=PEER)
    client.force_login(operator)
    response = client.post(f"/inventory/hosts/{host.pk}/status/", {"status": "maintenance", "reason": "disk"},
                           HTTP_X_FORWARDED_FOR=forwarded, HTTP_X_FORWARDED_PORT="70000")
    assert response.status_code == 302
    host.refresh_from_db()
    assert host.status == "maintenance"
    entry = LogEntry.objects.get_for_object(host).order_by("-pk").first()
    assert (entry.actor, entry.remote_addr, entry.remote_port) == (operator, PEER, None)


def test_the_forwarded_address_is_logged_behind_a_trusted_proxy(settings, admin_user, site):
    settings.TRUSTED_PROXIES = [PROXY]
    client = token_client(admin_user)
    response = client.patch(f"/api/inventory/sites/{site.pk}/", {"name": "Amsterdam"}, format="json",
                            REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.5",
                            HTTP_X_FORWARDED_PORT="51234")
    assert response.status_code == 200
    entry = last_entry_for(site)
    assert (entry.remote_addr, entry.remote_port) == ("203.0.113.5", 51234)
    assert Site.objects.get(pk=site.pk).name == "Amsterdam"
