"""Replatform to RDS with low downtime, when the source server has wal_level = logical:
instead of copying everything again at cutover, the target subscribes to the source and keeps up while the
source is written; the cutover only waits for the last changes.

    support = supports_logical_replication(source)      # .ok, .reason in words
    start_logical_replication(source, target, "opsconsole_comet_db", recorder)  # schema, publication,
                                                          # subscription, initial copy; again = reuse
    report = verify_live(source, target, "opsconsole_comet_db")   # while the source is written
    set_read_only(source, True, terminate_sessions=True)
    finish_logical_replication(source, target, "opsconsole_comet_db", recorder, timeout=900)
    stop_logical_replication(source, target, "opsconsole_comet_db")   # rollback / clean-up

The subscription connects from the target to the source DSN as given (so the source must
be reachable from the target, and its user needs REPLICATION or superuser); its password
is kept in the target's pg_subscription (readable by superusers only) and is in none of
our logs or messages. The statement that hands it over does not connect, so the target
server does not log it for failing (a server with log_statement = ddl logs it all the same).
Logical replication carries no DDL and no sequence values: the schema is copied once
before it starts (change no schema until the cutover), sequences at the cutover.

The schema copy and the checks (row counts and checksums per table) are rds_replatform's.
Errors: cloud.drivers.aws.CloudError, code "database", told in words.
"""

import re
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ..drivers import aws
from .rds_replatform import compare_figures, connect_to, copy_data, database_error, redacted, table_figures
from .recording import log as _log
from .recording import progress as _progress

# The publication, the subscription and its slot share one name.
REPLICATION_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
INITIAL_SYNC_TIMEOUT_S = 24 * 3600  # the initial copy of a big database takes hours, not days
# Tables of a FOR ALL TABLES publication without a key to find a row by: the source
# refuses UPDATE and DELETE on them once published.
NO_REPLICA_IDENTITY = """
    SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND c.relpersistence = 'p' AND NOT c.relispartition
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
      AND (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS (
           SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))
    ORDER BY 1, 2"""
UNLOGGED = """
    SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND c.relpersistence = 'u' ORDER BY 1, 2"""


@dataclass(frozen=True)
class LogicalSupport:
    ok: bool
    reason: str


def _check_name(name):
    if not REPLICATION_NAME.match(name or ""):
        raise database_error(f"{name!r} cannot name a publication, subscription and replication slot: use 1 to 63 "
                              f"lower-case letters, digits or underscores, not starting with a digit.")


def _member(role):
    return (f"CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') "
            f"THEN pg_has_role('{role}', 'member') ELSE false END")


def _names(rows):
    return ", ".join(f"{schema}.{table}" for schema, table in rows)


def supports_logical_replication(source_dsn, name=None):
    """Whether the source can be copied by logical replication (LogicalSupport.ok), and
    why (not), in words. name: the replication's own slot, which does not count as taken."""
    with connect_to(source_dsn) as connection:
        wal_level = connection.execute("SHOW wal_level").fetchone()[0]
        if wal_level != "logical":
            return LogicalSupport(False, f"the source server has wal_level = {wal_level}; logical replication needs "
                                         f"logical (on RDS the parameter rds.logical_replication = 1), which takes "
                                         f"a restart of the source")
        user, allowed = connection.execute(
            f"SELECT rolname, rolsuper OR ({_member('rds_superuser')} AND (rolreplication OR "
            f"{_member('rds_replication')})) FROM pg_roles WHERE rolname = current_user").fetchone()
        if not allowed:
            return LogicalSupport(False, f"the source user {user} may not publish all tables and stream their changes: "
                                         f"it must be a superuser (on RDS: rds_superuser and rds_replication)")
        slots, senders = connection.execute(
            "SELECT current_setting('max_replication_slots')::int - (SELECT count(*) FROM pg_replication_slots "
            "WHERE slot_name <> %s), current_setting('max_wal_senders')::int - (SELECT count(*) "
            "FROM pg_stat_replication)", [name or ""]).fetchone()
        if slots < 1 or senders < 1:
            return LogicalSupport(False, "the source server has no free replication slot or WAL sender "
                                         "(max_replication_slots, max_wal_senders)")
        if rows := connection.execute(NO_REPLICA_IDENTITY).fetchall():
            return LogicalSupport(False, f"tables without a primary key or replica identity: {_names(rows)}; once "
                                         f"published, the source would refuse UPDATE and DELETE on them")
        if rows := connection.execute(UNLOGGED).fetchall():
            return LogicalSupport(False, f"unlogged tables are not replicated: {_names(rows)}")
        if connection.execute("SELECT EXISTS (SELECT 1 FROM pg_largeobject_metadata)").fetchone()[0]:
            return LogicalSupport(False, "the source has large objects, which logical replication does not carry")
    return LogicalSupport(True, "the source server has wal_level = logical and every table has a primary key or "
                                "replica identity")


def start_logical_replication(source_dsn, target_dsn, name, recorder=None, *, timeout=INITIAL_SYNC_TIMEOUT_S,
                              poll_seconds=1.0):
    """The schema once (empty tables), a publication FOR ALL TABLES on the source, a
    subscription on the target that copies every table then streams the changes; returns
    when every table is copied and streaming ({"tables", "seconds"}). Called again, it
    reuses the publication and subscription it finds and waits again."""
    _check_name(name)
    started = time.monotonic()
    _create_publication(source_dsn, name)
    if _subscription(target_dsn, name) is None:
        _log(recorder, f"Copying the schema of {redacted(source_dsn)} (no data)")
        copy_data(source_dsn, target_dsn, recorder, schema_only=True)
        _drop_slot(source_dsn, name)  # left by a subscription that is gone: not ours to resume
        _create_slot(source_dsn, name)
        _create_subscription(source_dsn, target_dsn, name)
        _log(recorder, f"Subscribed {redacted(target_dsn)} to publication {name}: copying every table")
    else:
        _log(recorder, f"Subscription {name} exists on {redacted(target_dsn)}: reusing it")
    _start_subscription(source_dsn, target_dsn, name)
    tables = _wait_initial_sync(target_dsn, name, recorder, timeout, poll_seconds)
    seconds = round(time.monotonic() - started, 3)
    _log(recorder, f"{tables} tables copied and streaming changes ({seconds:.1f} s)")
    return {"tables": tables, "seconds": seconds}


def _create_publication(source_dsn, name):
    with connect_to(source_dsn, autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", [name]).fetchone():
            return
        try:
            connection.execute(sql.SQL("CREATE PUBLICATION {} FOR ALL TABLES").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            raise database_error(f"Cannot create publication {name} on {redacted(source_dsn)}", exc) from exc


# The subscription of that name in the target connection's database.
OUR_SUBSCRIPTION = ("s.subname = %s AND s.subdbid = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database())")


def _subscription(target_dsn, name):
    """(enabled,) of the subscription in the target's database, or None."""
    with connect_to(target_dsn) as connection:
        return connection.execute(f"SELECT subenabled FROM pg_subscription s WHERE {OUR_SUBSCRIPTION}",
                                  [name]).fetchone()


def _create_slot(source_dsn, name):
    with connect_to(source_dsn, autocommit=True) as connection:
        try:
            connection.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", [name])
        except psycopg.Error as exc:
            raise database_error(f"Cannot create replication slot {name} on {redacted(source_dsn)}", exc) from exc


def _publisher(source_dsn, password=True):
    """The source DSN in keyword form, which the target's libpq reads."""
    params = conninfo_to_dict(source_dsn)
    if not password:
        params.pop("password", None)
    return make_conninfo("", **params)


def _create_subscription(source_dsn, target_dsn, name):
    """A subscription that does not connect yet: a statement that fails to connect is
    written to the server's log, so it carries no password (see _start_subscription)."""
    with connect_to(target_dsn, autocommit=True) as connection:
        try:
            connection.execute(sql.SQL("CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {} WITH (connect = false, "
                                       "slot_name = {})").format(sql.Identifier(name),
                                                                 sql.Literal(_publisher(source_dsn, password=False)),
                                                                 sql.Identifier(name), sql.Literal(name)))
        except psycopg.Error as exc:
            raise database_error(f"Cannot create subscription {name} on {redacted(target_dsn)} (the target's user "
                                  f"must be allowed to)", exc) from exc


def _start_subscription(source_dsn, target_dsn, name):
    """Give a new subscription the full DSN (a statement that does not connect), enable
    it, and have it copy every table of the publication; what is done already is skipped."""
    identifier = sql.Identifier(name)
    with connect_to(target_dsn, autocommit=True) as connection:
        try:
            if not _subscription(target_dsn, name)[0]:
                connection.execute(sql.SQL("ALTER SUBSCRIPTION {} CONNECTION {}").format(
                    identifier, sql.Literal(_publisher(source_dsn))))
                connection.execute(sql.SQL("ALTER SUBSCRIPTION {} ENABLE").format(identifier))
            if not connection.execute(f"SELECT 1 FROM pg_subscription_rel r JOIN pg_subscription s "
                                      f"ON s.oid = r.srsubid WHERE {OUR_SUBSCRIPTION}", [name]).fetchone():
                connection.execute(sql.SQL("ALTER SUBSCRIPTION {} REFRESH PUBLICATION WITH (copy_data = true)")
                                   .format(identifier))
        except psycopg.Error as exc:
            raise database_error(f"Cannot start subscription {name} on {redacted(target_dsn)} (the target must reach "
                                  f"{redacted(source_dsn)})", exc) from exc


def _wait_initial_sync(target_dsn, name, recorder, timeout, poll_seconds):
    """Wait until every table of the subscription is ready (pg_subscription_rel 'r');
    the number of tables. Errors of the subscription's workers stop the wait: they
    retry for ever, and the reason is only in the target server's log."""
    deadline = time.monotonic() + timeout
    with connect_to(target_dsn, autocommit=True) as connection:
        errors_before = _subscription_errors(connection, name)
        while True:
            states = dict(connection.execute(
                f"SELECT r.srsubstate, count(*) FROM pg_subscription_rel r JOIN pg_subscription s "
                f"ON s.oid = r.srsubid WHERE {OUR_SUBSCRIPTION} GROUP BY 1", [name]).fetchall())
            total, ready = sum(states.values()), states.get("r", 0)
            if ready == total:
                return total
            if _subscription_errors(connection, name) > errors_before:
                raise database_error(f"Subscription {name} failed while copying the tables ({ready} of {total} "
                                      f"ready): the target server's log says why; fix it, or roll back")
            if time.monotonic() >= deadline:
                raise database_error(f"Subscription {name}: only {ready} of {total} tables were copied after "
                                      f"{timeout} s")
            _progress(recorder, 100 * ready // max(total, 1), f"Initial copy: {ready} of {total} tables ready")
            time.sleep(poll_seconds)


def _subscription_errors(connection, name):
    if connection.info.server_version < 150000:  # no such statistics before PostgreSQL 15
        return 0
    row = connection.execute("SELECT sync_error_count + apply_error_count FROM pg_stat_subscription_stats "
                             "WHERE subname = %s", [name]).fetchone()
    return row[0] if row else 0


def replication_lag(source_dsn, name):
    """Bytes of WAL the subscription has not confirmed yet (0: the target has everything
    written so far)."""
    with connect_to(source_dsn) as connection:
        row = connection.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), coalesce(confirmed_flush_lsn, restart_lsn))::bigint "
            "FROM pg_replication_slots WHERE slot_name = %s", [name]).fetchone()
    if row is None:
        raise database_error(f"There is no replication slot {name} on {redacted(source_dsn)}: the subscription "
                              f"is gone")
    return max(0, row[0] or 0)


def _current_lsn(source_dsn):
    with connect_to(source_dsn) as connection:
        return connection.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]


def _wait_for_lsn(source_dsn, name, lsn, recorder, timeout, poll_seconds=0.2):
    """Wait until the subscription has confirmed everything the source wrote up to lsn."""
    deadline = time.monotonic() + timeout
    with connect_to(source_dsn, autocommit=True) as connection:
        while True:
            row = connection.execute(
                "SELECT pg_wal_lsn_diff(%s::pg_lsn, confirmed_flush_lsn)::bigint, active FROM pg_replication_slots "
                "WHERE slot_name = %s", [lsn, name]).fetchone()
            if row is None:
                raise database_error(f"There is no replication slot {name} on {redacted(source_dsn)}: the "
                                      f"subscription is gone")
            behind, active = row
            if behind is not None and behind <= 0:
                return
            if time.monotonic() >= deadline:
                raise database_error(f"The target was still {behind} bytes behind the source after {timeout} s "
                                      f"(subscription {name} {'connected' if active else 'not connected'})")
            _progress(recorder, 0, f"Waiting for the target: {behind if behind is not None else '?'} bytes behind")
            time.sleep(poll_seconds)


def verify_live(source_dsn, target_dsn, name, recorder=None, *, timeout=900):
    """verify() while the source is written: figures of the source, then of the target once
    it has every change up to then; a table that differs is read on the source again and
    only counts as a difference if the source did not change meanwhile (else its
    "written_meanwhile" is True, and the cutover's check, with the source read-only,
    decides). Same report as verify(), with "written_meanwhile": [tables]."""
    source = table_figures(source_dsn)
    _wait_for_lsn(source_dsn, name, _current_lsn(source_dsn), recorder, timeout)
    report = compare_figures(source, table_figures(target_dsn))
    differing = {table["table"] for table in report["tables"] if not table["match"]}
    again = table_figures(source_dsn, only=differing) if differing else {}
    written = sorted(table for table in differing if again.get(table) != source[table])
    for table in report["tables"]:
        table["written_meanwhile"] = table["table"] in written
    report["written_meanwhile"] = written
    report["ok"] = (all(table["match"] or table["written_meanwhile"] for table in report["tables"])
                    and not report["missing_in_target"] and not report["extra_in_target"])
    return report


def finish_logical_replication(source_dsn, target_dsn, name, recorder=None, *, timeout=900):
    """With the source already read-only: wait until the target has every change written
    up to now, set the target's sequences to the source's, drop the subscription (and so
    its slot on the source) and the publication. Called again after a part of it ran, it
    does the rest. Returns {"sequences", "seconds"}."""
    _check_name(name)
    started = time.monotonic()
    if _subscription(target_dsn, name) is not None:
        lsn = _current_lsn(source_dsn)
        _log(recorder, f"Waiting for the target to have every change up to {lsn}")
        _wait_for_lsn(source_dsn, name, lsn, recorder, timeout)
    else:
        _log(recorder, f"Subscription {name} is already gone: the check with the source read-only tells whether "
                       f"the target has everything")
    sequences = copy_sequences(source_dsn, target_dsn)
    _drop_subscription(target_dsn, name)
    _drop_slot(source_dsn, name)
    _drop_publication(source_dsn, name)
    seconds = round(time.monotonic() - started, 3)
    _log(recorder, f"Replication {name} finished: {sequences} sequences set, subscription and publication dropped "
                   f"({seconds:.1f} s)")
    return {"sequences": sequences, "seconds": seconds}


def copy_sequences(source_dsn, target_dsn):
    """Set every sequence of the target to the source's value (logical replication does
    not carry them); the number of sequences."""
    with connect_to(source_dsn) as connection:
        names = connection.execute("SELECT schemaname, sequencename FROM pg_sequences ORDER BY 1, 2").fetchall()
        values = [(sql.Identifier(schema, sequence).as_string(connection),
                   *connection.execute(sql.SQL("SELECT last_value, is_called FROM {}").format(
                       sql.Identifier(schema, sequence))).fetchone()) for schema, sequence in names]
    with connect_to(target_dsn, autocommit=True) as connection:
        for sequence, last_value, is_called in values:
            try:
                connection.execute("SELECT setval(%s::regclass, %s, %s)", [sequence, last_value, is_called])
            except psycopg.Error as exc:
                raise database_error(f"Cannot set sequence {sequence} on {redacted(target_dsn)}", exc) from exc
    return len(values)


def stop_logical_replication(source_dsn, target_dsn, name, recorder=None):
    """Rollback / clean-up: drop the subscription (detached from its slot when the source
    cannot be reached from the target), the slot and the publication; whatever is missing
    already is fine. A target that cannot be reached is told after the source is cleaned
    (a slot left behind would keep the source's WAL for ever)."""
    _check_name(name)
    failure = None
    try:
        _drop_subscription(target_dsn, name, detach=True)
    except aws.CloudError as exc:
        if "does not exist" not in str(exc):  # the target's database is gone, and its subscription with it
            failure = exc
    _drop_slot(source_dsn, name)
    _drop_publication(source_dsn, name)
    if failure is not None:
        raise database_error(f"Replication {name}: the slot and publication on the source are dropped, but not "
                              f"the subscription on the target", failure)
    _log(recorder, f"Replication {name} stopped: no subscription, slot or publication left")


def _drop_subscription(target_dsn, name, detach=False):
    """DROP SUBSCRIPTION (it drops its slot on the source). detach: when that fails, the
    subscription is dropped without touching its slot."""
    if _subscription(target_dsn, name) is None:
        return
    identifier = sql.Identifier(name)
    with connect_to(target_dsn, autocommit=True) as connection:
        try:
            connection.execute(sql.SQL("DROP SUBSCRIPTION IF EXISTS {}").format(identifier))
        except psycopg.Error as exc:
            if not detach:
                raise database_error(f"Cannot drop subscription {name} on {redacted(target_dsn)}", exc) from exc
            try:
                connection.execute(sql.SQL("ALTER SUBSCRIPTION {} DISABLE").format(identifier))
                connection.execute(sql.SQL("ALTER SUBSCRIPTION {} SET (slot_name = NONE)").format(identifier))
                connection.execute(sql.SQL("DROP SUBSCRIPTION {}").format(identifier))
            except psycopg.Error as again:
                raise database_error(f"Cannot drop subscription {name} on {redacted(target_dsn)}", again) from again


def _drop_slot(source_dsn, name, timeout=10):
    """Drop the replication slot if it is there, ending the WAL sender that holds it."""
    deadline, failure = time.monotonic() + timeout, None
    with connect_to(source_dsn, autocommit=True) as connection:
        while True:
            row = connection.execute("SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s",
                                     [name]).fetchone()
            if row is None:
                return
            try:
                if row[0] is None:
                    connection.execute("SELECT pg_drop_replication_slot(%s)", [name])
                    return
                connection.execute("SELECT pg_terminate_backend(%s)", [row[0]])
            except psycopg.Error as exc:  # taken again meanwhile: try again
                failure = exc
            if time.monotonic() >= deadline:
                raise database_error(f"Cannot drop replication slot {name} on {redacted(source_dsn)}: it stays in "
                                      f"use", failure)
            time.sleep(0.2)


def _drop_publication(source_dsn, name):
    with connect_to(source_dsn, autocommit=True) as connection:
        connection.execute("SET default_transaction_read_only = off")  # the source is read-only at cutover
        try:
            connection.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            raise database_error(f"Cannot drop publication {name} on {redacted(source_dsn)}", exc) from exc
