"""Replatform a PostgreSQL database to RDS, with its real data.

    database = create_instance(account, "comet-db", "db.m5.large", "postgres", 20)   # an RdsDatabase row
    wait_available(account, "comet-db", timeout=1800)
    target = endpoint_dsn(account, "comet-db")
    set_read_only(source, True, terminate_sessions=True)   # writes stop: the copy is consistent
    copy_data(source, target, recorder)                     # pg_dump -Fc | pg_restore, progress per table
    report = verify(source, target)                         # report["ok"]: row counts and checksums per table
    set_read_only(source, False)                            # rollback: point back at the source
    delete_instance(account, "comet-db")                    # rollback / test clean-up

The embedded cloud: moto answers RDS's control plane only (the instance is "available" at
once and has no database behind it). For an account with is_embedded set, the endpoint
of instance IDENTIFIER is the database PREFIX + identifier (hyphens → underscores) on the
local PostgreSQL server of settings OPSCONSOLE_CLOUD_RDS_LOCAL_SERVER
(postgres://postgres@127.0.0.1:5432) and OPSCONSOLE_CLOUD_RDS_LOCAL_PREFIX ("rds_"):
create_instance creates that database, delete_instance drops it, so the data really
moves. The account page shows the mapping (CloudAccount.embedded_rds_endpoint). Against
real AWS the DSN is the instance's endpoint with the master user and the password
create_instance chose (kept encrypted in RdsDatabase), sslmode=require.

Data is moved with the PostgreSQL client programs (Debian postgresql-client; `make
install` installs it): pg_dump's major version must be at least the source server's.
Passwords never reach a command line (PGPASSWORD in the child's environment) or a log.

Low downtime (logical replication, when the source allows it): rds_logical.

Errors: cloud.drivers.aws.CloudError, told in words (code "database" for PostgreSQL and
its programs); bad input to create_instance is a django ValidationError with field errors.
"""

import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
from django.conf import settings
from django.core.exceptions import ValidationError
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .. import conf
from ..drivers import aws, rds
from ..models import RdsDatabase
from .recording import log as _log
from .recording import progress as _progress

IDENTIFIER = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,61}[a-zA-Z0-9]?$")
ENGINES = {"postgres"}  # what pg_dump / pg_restore can move
FAILED_STATES = {"failed", "incompatible-parameters", "incompatible-restore", "incompatible-network",
                 "storage-full", "inaccessible-encryption-credentials", "deleting"}
# Same text for the same row on both servers, whatever their defaults.
CHECKSUM_SETTINGS = ("SET TIME ZONE 'UTC'", "SET DateStyle = 'ISO, YMD'", "SET IntervalStyle = 'postgres'",
                     "SET extra_float_digits = 3", "SET bytea_output = 'hex'")


def database_error(message, exc=None):
    error = aws.CloudError(message if exc is None else f"{message}: {exc}".strip(), code="database",
                           operation="PostgreSQL")
    error.__cause__ = exc
    return error


# --- the RDS instance ------------------------------------------------------------------


def local_database_name(identifier):
    """The database behind an embedded-cloud RDS instance."""
    return conf.rds_local_server()[1] + identifier.lower().replace("-", "_")


def local_server_dsn(database="postgres"):
    server = conf.rds_local_server()[0]
    return f"{server}/{database}"


def create_instance(account, identifier, db_class, engine, storage_gb, *, master_username="opsconsole",
                    database_name="postgres", multi_az=False, tags=None):
    """Ask RDS for the instance (a resumed step finds the one it asked for) and remember
    it with its master password. Embedded cloud: also create its local database."""
    errors = {}
    if not IDENTIFIER.match(identifier or ""):
        errors["identifier"] = ("1 to 63 letters, digits or hyphens, starting with a letter, no two hyphens in "
                                "a row and no hyphen at the end.")
    if engine not in ENGINES:
        errors["engine"] = f"Only {', '.join(sorted(ENGINES))} databases can be moved with their data."
    if not (20 <= int(storage_gb) <= 65536):
        errors["storage_gb"] = "RDS PostgreSQL storage is 20 to 65,536 GiB."
    if errors:
        raise ValidationError(errors)
    database, created = RdsDatabase.objects.get_or_create(
        account=account, identifier=identifier,
        defaults={"engine": engine, "db_class": db_class, "storage_gb": storage_gb,
                  "master_username": master_username, "master_password": secrets.token_urlsafe(24),
                  "database_name": database_name})
    rds.create_db_instance(account, identifier, db_class, engine, storage_gb, database.master_username,
                           database.master_password, database_name=database.database_name, multi_az=multi_az,
                           tags=tags)
    if account.is_embedded:
        _create_local_database(local_database_name(identifier))
    return database


def wait_available(account, identifier, timeout, *, poll_seconds=5, recorder=None):
    """Wait until RDS says the instance is available; returns its description. A failed
    instance, or one still not ready after timeout seconds, is a CloudError."""
    deadline = time.monotonic() + timeout
    while True:
        described = rds.describe_db_instance(account, identifier)
        if described is None:
            raise aws.CloudError(f"There is no RDS instance {identifier} in {account.region}.",
                                 code="DBInstanceNotFound", operation="rds DescribeDBInstances")
        status = described.get("DBInstanceStatus", "")
        if status == "available":
            if recorder is not None:
                recorder.log(f"RDS instance {identifier} is available")
            return described
        if status in FAILED_STATES:
            raise aws.CloudError(f"The RDS instance {identifier} is {status}: it will not become available.",
                                 code=status, operation="rds DescribeDBInstances")
        if time.monotonic() >= deadline:
            raise aws.CloudError(f"The RDS instance {identifier} was still {status!r} after {timeout} s.",
                                 code="timeout", operation="rds DescribeDBInstances")
        if recorder is not None:
            recorder.progress(0, f"Waiting for RDS instance {identifier}: {status}")
        time.sleep(min(poll_seconds, max(0.0, deadline - time.monotonic())))


def endpoint_dsn(account, identifier):
    """The DSN to reach the instance's database (see the module docstring)."""
    if account.is_embedded:
        return local_server_dsn(local_database_name(identifier))
    described = rds.describe_db_instance(account, identifier)
    if described is None or not described.get("Endpoint"):
        raise aws.CloudError(f"The RDS instance {identifier} has no endpoint yet: wait until it is available.",
                             code="no-endpoint", operation="rds DescribeDBInstances")
    database = RdsDatabase.objects.filter(account=account, identifier=identifier).first()
    if database is None:
        raise aws.CloudError(f"The RDS instance {identifier} was not created by this console: its password is "
                             f"unknown here.", code="unknown-instance", operation="rds DescribeDBInstances")
    return make_conninfo("", host=described["Endpoint"]["Address"], port=described["Endpoint"]["Port"],
                         dbname=database.database_name, user=database.master_username,
                         password=database.master_password, sslmode="require")


def delete_instance(account, identifier):
    """Delete the instance (no final snapshot: the source still has the data) and forget
    it; the embedded cloud also drops its local database."""
    described = rds.describe_db_instance(account, identifier)
    if described is not None:
        with aws.translated_errors(account, "rds DeleteDBInstance"):
            aws.client(account, "rds").delete_db_instance(DBInstanceIdentifier=identifier, SkipFinalSnapshot=True)
    if account.is_embedded:
        _drop_local_database(local_database_name(identifier))
    RdsDatabase.objects.filter(account=account, identifier=identifier).delete()


def _create_local_database(name):
    with connect_to(local_server_dsn(), autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _drop_local_database(name):
    with connect_to(local_server_dsn(), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# --- the data ----------------------------------------------------------------------------


# A DSN says how to log in; the worker's own ~/.pgpass must never fill in a password it left out.
# A path below /dev/null can never exist, so libpq reads no password file (and says nothing).
NO_PASSFILE = "/dev/null/no-pgpass"


def connect_to(dsn, **options):
    try:
        return psycopg.connect(dsn, connect_timeout=10, passfile=NO_PASSFILE, **options)
    except psycopg.Error as exc:
        raise database_error(f"Cannot connect to {redacted(dsn)}", exc) from exc


def source_problem(dsn, engine="postgres"):
    """Why the database at dsn cannot be moved with its data, in a sentence; None when it
    answers and is an engine the copy handles."""
    if engine not in ENGINES:
        engines = ", ".join(sorted(ENGINES))
        return f"Only {engines} databases can be moved with their data, not {engine or 'this engine'}."
    try:
        with connect_to(dsn) as connection:
            connection.execute("SELECT 1")
    except aws.CloudError as exc:
        return str(exc)
    return None


def redacted(dsn):
    """The DSN without its password, for messages and logs."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(an unreadable DSN)"
    params.pop("password", None)
    return make_conninfo("", **params)


def _program(name, dsn):
    """(argv start, environment) to run a PostgreSQL client program against dsn, with
    the password in the environment, not on the command line."""
    path = shutil.which(name)
    if path is None:
        raise database_error(f"{name} is not installed: install the PostgreSQL client programs "
                              f"(Debian postgresql-client; `make install` does).")
    params = conninfo_to_dict(dsn)
    env = {**os.environ, "PGPASSFILE": NO_PASSFILE}
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = password
    return [path, f"--dbname={make_conninfo('', **params)}"], env


def _major(version_text):
    match = re.search(r"(\d+)(?:\.\d+)?", version_text)
    return int(match.group(1)) if match else 0


def copy_data(source_dsn, target_dsn, recorder=None, *, jobs=2, schema_only=False):
    """Copy schema and data from source to target with pg_dump -Fc and pg_restore
    (--clean --if-exists: running it again replaces what a previous copy left; no owners
    or grants, RDS has its own roles). Progress follows the tables dumped then restored.
    schema_only: the tables, empty (logical replication fills them). Publications and
    subscriptions of the source are never copied. Returns {"tables", "dump_bytes", "seconds"}."""
    started = time.monotonic()
    with connect_to(source_dsn) as connection:
        server_major = connection.info.server_version // 10000
        tables = len(_tables(connection))
    dump_argv, dump_env = _program("pg_dump", source_dsn)
    client_major = _major(subprocess.run([dump_argv[0], "--version"], capture_output=True, text=True).stdout)
    if client_major < server_major:
        raise database_error(f"pg_dump {client_major} cannot dump a PostgreSQL {server_major} server: install "
                              f"the client programs of version {server_major} or later.")
    restore_argv, restore_env = _program("pg_restore", target_dsn)
    workdir = Path(settings.VAR_DIR) / "cloud" / "rds"
    workdir.mkdir(parents=True, exist_ok=True)
    handle, dump_path = tempfile.mkstemp(prefix="replatform-", suffix=".dump", dir=workdir)
    os.close(handle)
    try:
        _log(recorder, f"Dumping {redacted(source_dsn)} ({tables} tables)")
        _run(dump_argv + ["--format=custom", "--no-owner", "--no-acl", "--no-publications", "--no-subscriptions",
                          "--verbose", f"--file={dump_path}"] + (["--schema-only"] if schema_only else []), dump_env,
             recorder, "dumping contents of table", tables, 0, 50)
        dump_bytes = os.path.getsize(dump_path)
        _log(recorder, f"Restoring {dump_bytes / 1_000_000:.1f} MB into {redacted(target_dsn)}")
        _run(restore_argv + ["--no-owner", "--no-acl", "--clean", "--if-exists", "--exit-on-error", "--verbose",
                             f"--jobs={max(1, jobs)}", dump_path], restore_env,
             recorder, "processing data for table", tables, 50, 99)
    finally:
        os.unlink(dump_path)
    seconds = round(time.monotonic() - started, 3)
    _log(recorder, f"Copied {tables} tables in {seconds:.1f} s")
    return {"tables": tables, "dump_bytes": dump_bytes, "seconds": seconds}


def _run(argv, env, recorder, marker, tables, start, end):
    """Run a client program, turning its verbose lines about `marker` into progress."""
    name = Path(argv[0]).name
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen, tail = 0, []
    try:
        for line in process.stderr:
            tail = (tail + [line.rstrip()])[-20:]
            if marker in line:
                seen += 1
                _progress(recorder, start + (end - start) * min(seen, tables) // max(tables, 1),
                          f"{name}: {line.split(':', 1)[-1].strip()[:200]}")
    finally:
        process.stderr.close()
        code = process.wait()
    if code:
        errors = [line for line in tail if "error" in line.lower()] or tail[-5:]
        raise database_error(f"{name} failed (exit {code}): " + " / ".join(errors)[-800:])


def _tables(connection):
    """[(schema, table)] of the user tables, in order."""
    return connection.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' ORDER BY 1, 2").fetchall()


def table_figures(dsn, only=None):
    """{"schema.table": (rows, checksum)}: checksum is md5 over the md5 of every row's
    text, in sorted order, so it does not depend on the physical order of the rows.
    only: these "schema.table" names (those that exist), not every table."""
    figures = {}
    with connect_to(dsn) as connection:
        for statement in CHECKSUM_SETTINGS:
            connection.execute(statement)
        for schema, table in _tables(connection):
            if only is not None and f"{schema}.{table}" not in only:
                continue
            query = sql.SQL("SELECT count(*), md5(coalesce(string_agg(h, '' ORDER BY h), '')) "
                            "FROM (SELECT md5(t::text) AS h FROM {}.{} t) rows").format(
                sql.Identifier(schema), sql.Identifier(table))
            try:
                figures[f"{schema}.{table}"] = tuple(connection.execute(query).fetchone())
            except psycopg.Error as exc:
                raise database_error(f"Cannot read {schema}.{table} on {redacted(dsn)}", exc) from exc
    return figures


def verify(source_dsn, target_dsn):
    """Compare the two databases table by table: row counts and checksums. Returns
    {"ok", "tables": [{"table", "source_rows", "target_rows", "source_checksum",
    "target_checksum", "match"}], "missing_in_target": [...], "extra_in_target": [...]}."""
    # Both servers at once: at cutover this check is most of the downtime.
    with ThreadPoolExecutor(max_workers=2) as pool:
        source, target = pool.map(table_figures, (source_dsn, target_dsn))
    return compare_figures(source, target)


def compare_figures(source, target):
    tables = []
    for name, (rows, checksum) in source.items():
        target_rows, target_checksum = target.get(name, (None, None))
        tables.append({"table": name, "source_rows": rows, "target_rows": target_rows, "source_checksum": checksum,
                       "target_checksum": target_checksum, "match": (rows, checksum) == (target_rows, target_checksum)})
    missing = sorted(set(source) - set(target))
    extra = sorted(set(target) - set(source))
    return {"ok": all(table["match"] for table in tables) and not missing and not extra, "tables": tables,
            "missing_in_target": missing, "extra_in_target": extra}


def set_read_only(dsn, on, *, terminate_sessions=False):
    """Make the database read-only (on=True) or writable again for every new session
    (ALTER DATABASE … SET default_transaction_read_only). Sessions already open keep
    writing unless terminate_sessions=True ends them (their clients reconnect read-only)."""
    with connect_to(dsn, autocommit=True) as connection:
        # This session may itself have started read-only: ALTER DATABASE needs it writable.
        connection.execute("SET default_transaction_read_only = off")
        name = connection.execute("SELECT current_database()").fetchone()[0]
        try:
            connection.execute(sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = {}").format(
                sql.Identifier(name), sql.SQL("on" if on else "off")))
            if on and terminate_sessions:
                # Not the walsenders: they write nothing, and a subscription that keeps its
                # connection sends the last changes at once instead of after a retry.
                connection.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                                   "AND backend_type <> 'walsender'")
        except psycopg.Error as exc:
            raise database_error(f"Cannot make {redacted(dsn)} {'read-only' if on else 'writable'}", exc) from exc


def is_read_only(dsn):
    """Whether a new session of the database starts read-only."""
    with connect_to(dsn) as connection:
        return connection.execute("SHOW default_transaction_read_only").fetchone()[0] == "on"
