"""Low-downtime moves to RDS by logical replication, end to end through the run's steps:
the source is a private PostgreSQL cluster started for this session (wal_level =
logical, 127.0.0.1 on a free port, trust), the target the embedded cloud's RDS database on
the local server (127.0.0.1:5432, wal_level = replica, which can subscribe but not publish).
Needs the PostgreSQL server programs (Debian postgresql) and root (initdb runs as the
postgres user)."""

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid

import psycopg
import pytest

from cloud.services import rds_logical, rds_replatform
from cloud.services.workloads import load_workloads
from migrations_tool.models import Run, RunStep, StepState
from migrations_tool.services import plans, runs
from migrations_tool.services.assessment import assess
from tests.migrations_tool.test_cloud_steps import work


def _server_programs():
    """The newest PostgreSQL server's programs on this machine (Debian: /usr/lib/postgresql/N/bin)."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    assert found, "the PostgreSQL server programs are missing: make install-test installs them (postgresql)"
    return os.path.dirname(max(found, key=lambda path: int(path.split("/")[4])))


SERVER_BIN = _server_programs()
LOCAL_SERVER = "postgres://postgres@127.0.0.1:5432"


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_postgres(*argv):
    subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def logical_cluster():
    """A throw-away PostgreSQL server with wal_level = logical; yields its DSN prefix
    (postgres://postgres@127.0.0.1:PORT). Stopped and removed afterwards."""
    home = tempfile.mkdtemp(prefix="opsconsole-pg-logical-")
    shutil.chown(home, "postgres", "postgres")
    data, port = os.path.join(home, "data"), _free_port()
    try:
        _as_postgres(f"{SERVER_BIN}/initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                     "--no-sync")
        options = (f"-c wal_level=logical -c port={port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={home} -c fsync=off -c max_replication_slots=10")
        _as_postgres(f"{SERVER_BIN}/pg_ctl", "start", "-D", data, "-w", "-l", os.path.join(home, "server.log"),
                     "-o", options)
        yield f"postgres://postgres@127.0.0.1:{port}"
    finally:
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            _as_postgres(f"{SERVER_BIN}/pg_ctl", "stop", "-D", data, "-m", "fast", "-w")
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def logical_server():
    with logical_cluster() as server:
        yield server


def _new_database(server, setup):
    name = f"shop_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    dsn = f"{server}/{name}"
    with psycopg.connect(dsn) as connection:
        connection.execute(setup)
    return dsn


@pytest.fixture
def rds_prefix(settings):
    settings.OPSCONSOLE_CLOUD_RDS_LOCAL_PREFIX = f"rds_l{uuid.uuid4().hex[:8]}_"


@pytest.fixture
def keyed_source(logical_server, rds_prefix):
    """Orders with a primary key (serial: a sequence) and 1,000 rows."""
    return _new_database(logical_server, """
        CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, quantity int NOT NULL);
        INSERT INTO orders (item, quantity) SELECT 'item ' || n, n % 7 FROM generate_series(1, 1000) n""")


@pytest.fixture
def keyless_source(logical_server, rds_prefix):
    """A log table without a primary key next to a keyed one."""
    return _new_database(logical_server, """
        CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
        CREATE TABLE audit_log (at timestamptz NOT NULL DEFAULT now(), line text);
        INSERT INTO customers (name) SELECT 'customer ' || n FROM generate_series(1, 300) n;
        INSERT INTO audit_log (line) SELECT 'line ' || n FROM generate_series(1, 200) n""")


def _rds_plan(estate, account, source_dsn):
    batman = estate["hosts"]["batman"]
    plan = plans.create_plan("RDS", assess(load_workloads(host_ids=[batman.pk]), account=account), account=account)
    plan.workloads.update(source_dsn=source_dsn)
    return plan


def _target_of(run, account):
    """The DSN of the RDS database the run created."""
    return rds_replatform.endpoint_dsn(account, run.steps.get(kind="create_database").checkpoint["identifier"])


def _published(source_dsn):
    """The publications and slots on the source."""
    with psycopg.connect(source_dsn) as connection:
        return connection.execute("SELECT pubname FROM pg_publication UNION ALL "
                                  "SELECT slot_name FROM pg_replication_slots").fetchall()


def _replication_left(source_dsn, target_dsn):
    """(publications and slots on the source, subscriptions on the target's server)."""
    published = _published(source_dsn)
    with psycopg.connect(target_dsn) as connection:
        subscribed = connection.execute("SELECT subname FROM pg_subscription s JOIN pg_database d "
                                        "ON d.oid = s.subdbid WHERE d.datname = current_database()").fetchall()
    return published, subscribed


def _clean_up(account, plan):
    """Stop any replication a failed test left, then delete the RDS instances."""
    names = {step.checkpoint.get("replication") for step in RunStep.objects.filter(workload__plan=plan)} - {None}
    for database in account.rds_databases.all():
        target = rds_replatform.endpoint_dsn(account, database.identifier)
        for source in plan.workloads.values_list("source_dsn", flat=True):
            for name in names:
                rds_logical.stop_logical_replication(source, target, name)
        rds_replatform.delete_instance(account, database.identifier)


@pytest.fixture
def target_dsn(rds_prefix):
    """An empty database on the local server, as the embedded cloud's RDS would give."""
    name = rds_replatform.local_database_name("target")
    rds_replatform._create_local_database(name)
    yield rds_replatform.local_server_dsn(name)
    rds_replatform._drop_local_database(name)


@pytest.fixture
def replication_name(keyed_source, target_dsn):
    """A name of this test's own; whatever it left running is stopped afterwards."""
    name = f"opsconsole_t{uuid.uuid4().hex[:8]}"
    yield name
    rds_logical.stop_logical_replication(keyed_source, target_dsn, name)


def test_the_cutover_waits_for_changes_the_target_has_not_applied(keyed_source, target_dsn, replication_name):
    rds_logical.start_logical_replication(keyed_source, target_dsn, replication_name)
    assert rds_logical.start_logical_replication(keyed_source, target_dsn, replication_name)["tables"] == 1
    with psycopg.connect(target_dsn) as blocker:
        blocker.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")  # the subscription cannot apply
        with psycopg.connect(keyed_source, autocommit=True) as connection:
            connection.execute("INSERT INTO orders (item, quantity) SELECT 'late', 1 FROM generate_series(1, 500)")
        assert rds_logical.replication_lag(keyed_source, replication_name) > 0
        rds_replatform.set_read_only(keyed_source, True, terminate_sessions=True)
        release = threading.Timer(1.5, blocker.rollback)
        release.start()
        finished = rds_logical.finish_logical_replication(keyed_source, target_dsn, replication_name, timeout=60)
        release.join()
    assert finished["seconds"] >= 1.4 and finished["sequences"] == 1
    with psycopg.connect(target_dsn) as connection:
        assert connection.execute("SELECT count(*) FROM orders").fetchone()[0] == 1500
    assert rds_replatform.verify(keyed_source, target_dsn)["ok"]
    assert _replication_left(keyed_source, target_dsn) == ([], [])


class Recorder:
    def __init__(self):
        self.lines = []

    def log(self, line):
        self.lines.append(line)

    def progress(self, percent, message):
        self.lines.append(message)


def test_the_password_reaches_the_subscription_but_no_log(keyed_source, target_dsn, replication_name):
    """trust authentication ignores the password; it must still be passed on, and never shown."""
    with_password = keyed_source.replace("postgres@", "postgres:Sesame-42@")
    recorder = Recorder()
    rds_logical.start_logical_replication(with_password, target_dsn, replication_name, recorder)
    assert recorder.lines and not any("Sesame-42" in line for line in recorder.lines)
    with psycopg.connect(target_dsn) as connection:
        (conninfo,) = connection.execute("SELECT subconninfo FROM pg_subscription WHERE subname = %s",
                                         [replication_name]).fetchone()
    assert "password=Sesame-42" in conninfo


def test_a_live_check_finds_a_row_the_target_changed(keyed_source, target_dsn, replication_name):
    rds_logical.start_logical_replication(keyed_source, target_dsn, replication_name)
    assert rds_logical.verify_live(keyed_source, target_dsn, replication_name)["ok"]
    with psycopg.connect(target_dsn) as connection:
        connection.execute("UPDATE orders SET quantity = -1 WHERE id = 7")
    report = rds_logical.verify_live(keyed_source, target_dsn, replication_name)
    assert not report["ok"] and report["written_meanwhile"] == []
    assert [table["table"] for table in report["tables"] if not table["match"]] == ["public.orders"]


def test_the_local_server_cannot_publish_and_says_why():
    support = rds_logical.supports_logical_replication(f"{LOCAL_SERVER}/postgres")
    assert not support.ok
    assert "wal_level = replica" in support.reason and "logical" in support.reason


def test_a_table_without_a_key_is_named(keyless_source):
    support = rds_logical.supports_logical_replication(keyless_source)
    assert not support.ok and "public.audit_log" in support.reason and "customers" not in support.reason
    with psycopg.connect(keyless_source) as connection:
        connection.execute("ALTER TABLE audit_log REPLICA IDENTITY FULL")
    assert rds_logical.supports_logical_replication(keyless_source).ok


def test_logical_replication_keeps_up_and_the_cutover_only_waits(estate, embedded_account, keyed_source, operator):
    plan = _rds_plan(estate, embedded_account, keyed_source)
    try:
        run = work(runs.start_run(plan, operator))
        assert run.state == Run.State.WAITING, run.message
        copy = run.steps.get(kind="copy_data")
        assert copy.checkpoint["mode"] == "logical", copy.checkpoint
        assert "wal_level = logical" in copy.checkpoint["mode_reason"]
        assert run.steps.get(kind="verify_data").checkpoint["outcome"]["report"]["ok"] is True
        identifier = run.steps.get(kind="create_database").checkpoint["identifier"]
        target = rds_replatform.endpoint_dsn(embedded_account, identifier)
        name = copy.checkpoint["replication"]
        published, subscribed = _replication_left(keyed_source, target)
        assert (name,) in published and (name,) in subscribed

        with psycopg.connect(keyed_source) as connection:  # the application keeps writing
            connection.execute("INSERT INTO orders (item, quantity) SELECT 'late ' || n, 1 "
                               "FROM generate_series(1, 250) n")
            connection.execute("UPDATE orders SET quantity = 99 WHERE id <= 10")
            connection.execute("DELETE FROM orders WHERE id BETWEEN 11 AND 20")

        run = work(runs.add_action(run, "cutover", operator))
        assert run.state == Run.State.DONE, run.message
        cutover = run.steps.get(kind="db_cutover")
        assert cutover.checkpoint["replication_finished"] and not cutover.checkpoint.get("copied")
        with psycopg.connect(target) as connection:
            assert connection.execute("SELECT count(*), sum(quantity) FILTER (WHERE id <= 10), max(id) "
                                      "FROM orders").fetchone() == (1240, 990, 1250)
            next_on_target = connection.execute("SELECT nextval('orders_id_seq')").fetchone()[0]
        with psycopg.connect(keyed_source) as connection:
            last_on_source = connection.execute("SELECT last_value FROM orders_id_seq").fetchone()[0]
        assert next_on_target > last_on_source == 1250
        assert _replication_left(keyed_source, target) == ([], [])
        assert rds_replatform.is_read_only(keyed_source)

        run = work(runs.add_action(run, "rollback", operator))
        assert run.state == Run.State.ROLLED_BACK, run.message
        assert not rds_replatform.is_read_only(keyed_source)
    finally:
        _clean_up(embedded_account, plan)


def test_a_rollback_before_the_cutover_stops_the_replication(estate, embedded_account, keyed_source, operator):
    plan = _rds_plan(estate, embedded_account, keyed_source)
    try:
        run = work(runs.start_run(plan, operator))
        assert run.steps.get(kind="copy_data").checkpoint["mode"] == "logical"
        identifier = run.steps.get(kind="create_database").checkpoint["identifier"]
        run = work(runs.add_action(run, "rollback", operator))
        assert run.state == Run.State.ROLLED_BACK, run.message
        # the source keeps no publication or slot; the target, its subscription with it, is deleted
        assert _published(keyed_source) == []
        assert not embedded_account.rds_databases.filter(identifier=identifier).exists()
        assert not rds_replatform.is_read_only(keyed_source)
    finally:
        _clean_up(embedded_account, plan)


def test_a_table_without_a_key_falls_back_to_dump_and_restore(estate, embedded_account, keyless_source, operator):
    plan = _rds_plan(estate, embedded_account, keyless_source)
    try:
        run = work(runs.start_run(plan, operator))
        assert run.state == Run.State.WAITING, run.message
        copy = run.steps.get(kind="copy_data")
        assert copy.checkpoint["mode"] == "dump" and "public.audit_log" in copy.checkpoint["mode_reason"]
        assert "public.audit_log" in run.job.log
        with psycopg.connect(keyless_source) as connection:
            connection.execute("DELETE FROM audit_log WHERE line = 'line 1'")  # the source was not made read-only
            assert not connection.execute("SELECT count(*) FROM pg_publication").fetchone()[0]

        run = work(runs.add_action(run, "cutover", operator))
        assert run.state == Run.State.DONE, run.message
        cutover = run.steps.get(kind="db_cutover")
        assert cutover.state == StepState.DONE and cutover.checkpoint["copied"]
        target = _target_of(run, embedded_account)
        with psycopg.connect(target) as connection:
            assert connection.execute("SELECT (SELECT count(*) FROM customers), "
                                      "(SELECT count(*) FROM audit_log)").fetchone() == (300, 199)
    finally:
        _clean_up(embedded_account, plan)
