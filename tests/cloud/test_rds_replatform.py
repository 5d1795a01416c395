"""Replatforming a database to RDS (cloud.services.rds_replatform): RDS's control plane
on the real moto server, the data on the real local PostgreSQL server (127.0.0.1:5432),
moved by the real pg_dump / pg_restore. Every database made here is named
opsconsole_h4_… and dropped afterwards."""

import os
import uuid

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from psycopg import sql

from cloud.drivers import aws
from cloud.models import CloudAccount, RdsDatabase
from cloud.services import rds_replatform as service

SERVER = "postgres://postgres@127.0.0.1:5432"
PREFIX = "opsconsole_h4_rds_"


def admin():
    return psycopg.connect(f"{SERVER}/postgres", autocommit=True)


def drop(name):
    with admin() as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def database_exists(name):
    with admin() as connection:
        return connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


@pytest.fixture(autouse=True)
def local_rds(settings):
    """Embedded RDS databases of these tests get our prefix; whatever is left is dropped."""
    settings.OPSCONSOLE_CLOUD_RDS_LOCAL_SERVER = SERVER
    settings.OPSCONSOLE_CLOUD_RDS_LOCAL_PREFIX = PREFIX
    yield
    with admin() as connection:
        left = [row[0] for row in connection.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                                     [PREFIX + "%"])]
    for name in left:
        drop(name)


@pytest.fixture
def source_dsn():
    """A scratch source database with real data: several types, two schemas, a sequence."""
    name = f"opsconsole_h4_src_{uuid.uuid4().hex[:8]}"
    with admin() as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = f"{SERVER}/{name}"
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("""
            CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, joined timestamptz NOT NULL,
                                    balance numeric(12, 2), avatar bytea, profile jsonb);
            INSERT INTO customers (name, joined, balance, avatar, profile)
                SELECT 'customer ' || i, timestamptz '2020-01-01 00:00+00' + i * interval '37 minutes',
                       i * 1.25, decode(md5(i::text), 'hex'), jsonb_build_object('tier', i % 3, 'tags', array['a', 'b'])
                FROM generate_series(1, 5000) i;
            CREATE SCHEMA billing;
            CREATE TABLE billing.invoices (id bigserial PRIMARY KEY, customer_id int REFERENCES customers,
                                           total double precision, paid boolean);
            INSERT INTO billing.invoices (customer_id, total, paid)
                SELECT 1 + i % 5000, i / 7.0, i % 2 = 0 FROM generate_series(1, 12000) i;
            CREATE TABLE empty_table (id int);
        """)
    yield dsn
    drop(name)


@pytest.fixture
def created(embedded_account):
    service.create_instance(embedded_account, "comet-db", "db.m5.large", "postgres", 20)
    return service.endpoint_dsn(embedded_account, "comet-db")


def test_create_instance_asks_rds_and_gives_the_embedded_instance_a_local_database(embedded_account):
    database = service.create_instance(embedded_account, "comet-db", "db.m5.large", "postgres", 20,
                                       tags={"workload": "comet"})
    assert (database.identifier, database.db_class, database.storage_gb) == ("comet-db", "db.m5.large", 20)
    assert len(database.master_password) >= 24
    with connection.cursor() as cursor:  # encrypted at rest
        cursor.execute("SELECT master_password FROM cloud_rdsdatabase")
        stored = cursor.fetchone()[0]
    assert stored and database.master_password not in stored
    described = aws.client(embedded_account, "rds").describe_db_instances(DBInstanceIdentifier="comet-db")
    assert described["DBInstances"][0]["DBInstanceClass"] == "db.m5.large"
    assert database_exists(PREFIX + "comet_db")

    # a resumed step: same instance, same row, no error
    assert service.create_instance(embedded_account, "comet-db", "db.m5.large", "postgres", 20).pk == database.pk
    assert service.wait_available(embedded_account, "comet-db", timeout=30)["DBInstanceStatus"] == "available"
    assert service.endpoint_dsn(embedded_account, "comet-db") == f"{SERVER}/{PREFIX}comet_db"
    assert embedded_account.embedded_rds_endpoint == f"{SERVER}/{PREFIX}<identifier>"

    service.delete_instance(embedded_account, "comet-db")
    assert not database_exists(PREFIX + "comet_db") and not RdsDatabase.objects.exists()


def test_a_real_aws_endpoint_carries_the_master_credentials(db, cloud):
    account = CloudAccount.objects.create(name="Like AWS", region="us-east-1", access_key_id="AKIATESTTESTTEST0000",
                                          secret_access_key="test-secret", endpoint_url=cloud, is_embedded=False)
    database = service.create_instance(account, "orion", "db.r5.large", "postgres", 100, database_name="orion")
    dsn = psycopg.conninfo.conninfo_to_dict(service.endpoint_dsn(account, "orion"))
    described = aws.client(account, "rds").describe_db_instances(DBInstanceIdentifier="orion")["DBInstances"][0]
    assert dsn["host"] == described["Endpoint"]["Address"] and int(dsn["port"]) == described["Endpoint"]["Port"]
    assert (dsn["user"], dsn["password"], dsn["dbname"], dsn["sslmode"]) == \
        ("opsconsole", database.master_password, "orion", "require")
    assert database.master_password not in service.redacted(service.endpoint_dsn(account, "orion"))


def test_bad_input_is_refused_with_field_errors(embedded_account):
    with pytest.raises(ValidationError) as refused:
        service.create_instance(embedded_account, "9-lives--", "db.m5.large", "mysql", 5)
    assert set(refused.value.message_dict) == {"identifier", "engine", "storage_gb"}
    assert not RdsDatabase.objects.exists()


def test_waiting_for_an_instance_that_does_not_exist(embedded_account):
    with pytest.raises(aws.CloudError, match="There is no RDS instance ghost"):
        service.wait_available(embedded_account, "ghost", timeout=5)


def test_copy_moves_every_row_and_verify_proves_it(source_dsn, created):
    class Recorder:
        def __init__(self):
            self.percents, self.lines = [], []

        def progress(self, percent, message=None):
            self.percents.append(percent)

        def log(self, line):
            self.lines.append(line)

    recorder = Recorder()
    copied = service.copy_data(source_dsn, created, recorder)
    assert copied["tables"] == 3 and copied["dump_bytes"] > 0
    assert recorder.percents == sorted(recorder.percents) and recorder.percents[-1] >= 90
    assert any("Dumping" in line for line in recorder.lines) and any("Restoring" in line for line in recorder.lines)

    report = service.verify(source_dsn, created)
    assert report["ok"], report
    rows = {table["table"]: table["target_rows"] for table in report["tables"]}
    assert rows == {"billing.invoices": 12000, "public.customers": 5000, "public.empty_table": 0}
    with psycopg.connect(created) as target:  # the sequence came along: new rows do not clash
        target.execute("INSERT INTO customers (name, joined) VALUES ('new', now())")

    # one changed value in the target: the checksum of that table, and only that one, differs
    with psycopg.connect(created, autocommit=True) as target:
        target.execute("UPDATE billing.invoices SET paid = NOT paid WHERE id = 77")
    report = service.verify(source_dsn, created)
    assert not report["ok"]
    assert [t["table"] for t in report["tables"] if not t["match"]] == ["billing.invoices", "public.customers"]
    changed = next(t for t in report["tables"] if t["table"] == "billing.invoices")
    assert changed["source_rows"] == changed["target_rows"] == 12000

    # copying again replaces what the first copy left: a retried step is safe
    service.copy_data(source_dsn, created)
    assert service.verify(source_dsn, created)["ok"]


def test_verify_names_a_table_missing_in_the_target(source_dsn, created):
    service.copy_data(source_dsn, created)
    with psycopg.connect(created, autocommit=True) as target:
        target.execute("DROP TABLE empty_table")
    report = service.verify(source_dsn, created)
    assert not report["ok"] and report["missing_in_target"] == ["public.empty_table"]


def test_read_only_source_refuses_writes_until_switched_back(source_dsn):
    open_session = psycopg.connect(source_dsn, autocommit=True)
    service.set_read_only(source_dsn, True, terminate_sessions=True)
    assert service.is_read_only(source_dsn)
    with psycopg.connect(source_dsn) as connection:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            connection.execute("INSERT INTO empty_table VALUES (1)")
    with pytest.raises(psycopg.OperationalError):  # the session open before was ended
        open_session.execute("SELECT 1")
    open_session.close()

    service.set_read_only(source_dsn, False)
    assert not service.is_read_only(source_dsn)
    with psycopg.connect(source_dsn) as connection:
        connection.execute("INSERT INTO empty_table VALUES (1)")


def test_an_unreachable_database_is_a_clear_error_without_its_password(created, closed_port):
    source = f"postgres://postgres:hunter2@127.0.0.1:{closed_port}/nothing"
    with pytest.raises(aws.CloudError) as failure:
        service.copy_data(source, created)
    assert "Cannot connect to" in str(failure.value) and "hunter2" not in str(failure.value)


def test_a_failing_restore_is_reported(source_dsn, embedded_account):
    target = f"{SERVER}/{PREFIX}never_created"
    with pytest.raises(aws.CloudError) as failure:
        service.copy_data(source_dsn, target)
    assert "pg_restore failed" in str(failure.value) and PREFIX + "never_created" in str(failure.value)


def test_the_account_page_shows_where_embedded_rds_keeps_its_data(viewer, embedded_account, db):
    from django.test import Client

    client = Client()
    client.force_login(viewer)
    page = client.get(f"/cloud/accounts/{embedded_account.pk}/").content.decode()
    assert f'id="embedded-rds-endpoint">{SERVER}/{PREFIX}&lt;identifier&gt;' in page
    real = CloudAccount.objects.create(name="Real", region="eu-west-1", access_key_id="AKIAREALREALREAL0000",
                                       secret_access_key="s")
    assert "embedded-rds-endpoint" not in client.get(f"/cloud/accounts/{real.pk}/").content.decode()


def test_the_workers_own_pgpass_never_fills_in_a_password_the_dsn_left_out(source_dsn):
    """A source DSN says how to log in: the worker's ~/.pgpass must not log it in as someone else."""
    with service.connect_to(source_dsn) as conn:
        passfile = conn.info.get_parameters()["passfile"]
    assert passfile == service.NO_PASSFILE and not os.path.exists(passfile)
    argv, env = service._program("pg_dump", source_dsn)
    assert env["PGPASSFILE"] == service.NO_PASSFILE and "password" not in argv[-1]
