"""A replatformed workload's source database DSN: what it may say and who may set it.

A run connects to this DSN, dumps it, puts it read-only and terminates its sessions, so
it is an admin's setting, and it names a TCP server and database only: no Unix socket
(peer authentication would log the worker into the console's own server), no file
(passfile, sslkey, sslrootcert...), no service entry, no options for the server.
Both libpq forms are read, key=value and postgresql:// URIs (psycopg parses them).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from psycopg import ProgrammingError
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core.addresses import is_host_address
from core.roles import Role, has_role

SETS_SOURCE_DSN = Role.ADMIN  # who may set or change it, in the console and the API

ALLOWED_KEYS = ("host", "port", "dbname", "user", "password", "sslmode", "connect_timeout")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
MAX_CONNECT_TIMEOUT = 300
LOOPBACK = {"localhost", "127.0.0.1", "::1"}
EXAMPLE = "postgresql://app@db.example:5432/sales?sslmode=require or host=db.example dbname=sales user=app"


def may_set_source_dsn(user):
    return has_role(user, SETS_SOURCE_DSN)


def clean_source_dsn(value, user):
    """The DSN `user` wants to store, or ValidationError with a sentence for the field."""
    if not may_set_source_dsn(user):
        raise ValidationError("Only an admin may set the source database DSN.", code="permission")
    if value:
        parse_source_dsn(value)
    return value


def parse_source_dsn(value) -> dict:
    """The DSN's parameters, or ValidationError saying what is not allowed."""
    if "\x00" in value:
        raise ValidationError("Null characters are not allowed.", code="invalid_dsn")
    try:
        params = conninfo_to_dict(value)
    except ProgrammingError:
        raise ValidationError(f"This is not a PostgreSQL DSN: write it like {EXAMPLE}.", code="invalid_dsn") from None
    refused = sorted(set(params) - set(ALLOWED_KEYS))
    if refused:
        raise ValidationError(
            f"The DSN may name only {', '.join(ALLOWED_KEYS)}; not {', '.join(refused)}.", code="invalid_dsn"
        )
    host = params.get("host", "")
    if not is_host_address(host):
        raise ValidationError(
            "Name the database server by host name or IP address (one, over TCP): "
            f"{host!r} is not one." if host else "Name the database server's host (over TCP, not a local socket).",
            code="invalid_dsn",
        )
    _check_number(params, "port", 1, 65535)
    _check_number(params, "connect_timeout", 1, MAX_CONNECT_TIMEOUT)
    if params.get("sslmode", "prefer") not in SSL_MODES:
        raise ValidationError(f"sslmode is one of {', '.join(SSL_MODES)}.", code="invalid_dsn")
    for key in ("dbname", "user"):
        _check_name(params, key)
    if not params.get("dbname"):
        raise ValidationError("Name the source database (dbname).", code="invalid_dsn")
    if _is_console_database(params):
        raise ValidationError("That is the console's own database: it cannot be a migration source.",
                              code="invalid_dsn")
    return params


def masked(value):
    """The DSN for the change log: every part but the password, which shows as ********."""
    if not value:
        return ""
    try:
        params = conninfo_to_dict(value)
    except ProgrammingError:
        return "(a DSN that cannot be read)"
    if params.get("password"):
        params["password"] = "********"
    return make_conninfo("", **params)


def _check_number(params, key, low, high):
    if key in params and not (params[key].isdigit() and low <= int(params[key]) <= high):
        raise ValidationError(f"{key} is a whole number from {low} to {high}.", code="invalid_dsn")


def _check_name(params, key):
    # A dbname holding "=" or a URI is itself read as a connection string by libpq's
    # programs (pg_dump --dbname), which would bring back every option refused above.
    name = params.get(key, "")
    if "=" in name or "://" in name or any(ord(c) < 32 for c in name) or len(name.encode()) > 63:
        raise ValidationError(f"{key} is a plain name of at most 63 bytes.", code="invalid_dsn")


def console_database():
    return settings.DATABASES["default"]


def _is_console_database(params):
    own = console_database()
    if own["ENGINE"] != "django.db.backends.postgresql":
        return False
    own_host = own.get("HOST") or "localhost"  # empty: its local socket
    same_host = params["host"] == own_host or {params["host"], own_host} <= LOOPBACK
    same_port = int(params.get("port") or 5432) == int(own.get("PORT") or 5432)
    return same_host and same_port and params["dbname"] == own["NAME"]
