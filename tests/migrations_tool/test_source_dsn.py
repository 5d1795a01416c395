"""A source DSN names a TCP database server and a database, nothing else: no socket, file,
service or server options, in both libpq forms. Only an admin sets it (API and console),
it is never shown, and its changes (password masked) are in the change log, as are the
plan, wave, workload and dependency changes."""

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from psycopg.conninfo import conninfo_to_dict

from cloud.services.workloads import load_workloads
from migrations_tool import source_dsn
from migrations_tool.models import Dependency, PlannedWorkload, Run, Wave
from migrations_tool.services import plans, runs
from migrations_tool.services.assessment import assess
from migrations_tool.source_dsn import masked, parse_source_dsn

ACCEPTED = [
    "postgresql://app:s3cret@db.example:5432/sales?sslmode=require&connect_timeout=10",
    "postgres://postgres@127.0.0.1/batman",
    "postgresql://app@[2001:db8::5]:6432/sales",
    "host=db.example port=5432 dbname=sales user=app password='it\\'s secret' sslmode=verify-full",
    "host=192.0.2.8 dbname=sales",
]

REFUSED = [
    "dbname=opsconsole",  # no host: libpq's local socket (peer authentication)
    "host=/var/run/postgresql dbname=opsconsole user=postgres",
    "postgresql://%2Fvar%2Frun%2Fpostgresql/opsconsole",
    "postgresql:///opsconsole?host=/tmp",
    "host=@abstract dbname=x",
    "host=db.example dbname=sales passfile=/root/.pgpass",
    "host=db.example dbname=sales sslkey=/etc/ssl/private/console.key",
    "host=db.example dbname=sales sslrootcert=/etc/ssl/certs/x.pem",
    "postgresql://db.example/sales?sslcert=/etc/ssl/x.crt",
    "service=console",
    "host=db.example dbname=sales service=console",
    "host=db.example dbname=sales options='-c default_transaction_read_only=off'",
    "host=db.example hostaddr=127.0.0.1 dbname=sales",
    "host=db1.example,db2.example dbname=sales",
    "host=-oProxyCommand dbname=sales",
    "host=db.example port=0 dbname=sales",
    "host=db.example port=5432,5433 dbname=sales",
    "host=db.example connect_timeout=100000 dbname=sales",
    "host=db.example sslmode=yes-please dbname=sales",
    "host=db.example",  # no database
    "host=db.example dbname='host=/tmp passfile=/root/.pgpass'",  # a dbname pg_dump would expand
    "host=db.example dbname=postgresql://localhost/x",
    "this is not a dsn",
    "host=db.example dbname=sales\x00",
]


@pytest.fixture
def plan(estate, embedded_account):
    hosts = estate["hosts"]
    made = plans.create_plan("Wave 1", assess(load_workloads(host_ids=[hosts["luna"].pk, hosts["batman"].pk])))
    made.account = embedded_account
    made.save()
    return made


@pytest.fixture
def batman(plan):
    planned = plan.workloads.get(name="batman")
    assert planned.strategy == "replatform-rds"
    return planned


def workload_url(planned):
    return f"/api/migrations/workloads/{planned.pk}/"


@pytest.mark.parametrize("dsn", ACCEPTED)
def test_an_admin_sets_a_tcp_dsn_in_either_form_and_it_is_never_returned(admin_api, batman, dsn):
    answer = admin_api.patch(workload_url(batman), {"source_dsn": dsn}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["has_source_dsn"] is True and "source_dsn" not in answer.json()
    assert "secret" not in admin_api.get(workload_url(batman)).content.decode()
    batman.refresh_from_db()
    assert batman.source_dsn == dsn


@pytest.mark.parametrize("dsn", REFUSED)
def test_a_dsn_naming_a_socket_file_service_or_options_is_a_field_error(admin_api, batman, dsn):
    answer = admin_api.patch(workload_url(batman), {"source_dsn": dsn}, format="json")
    assert answer.status_code == 400, answer.content
    assert list(answer.json()) == ["source_dsn"]
    batman.refresh_from_db()
    assert batman.source_dsn == ""


def test_an_operator_may_not_set_or_clear_it(operator_api, batman):
    PlannedWorkload.objects.filter(pk=batman.pk).update(source_dsn=ACCEPTED[0])
    for dsn in (ACCEPTED[1], ""):
        answer = operator_api.patch(workload_url(batman), {"source_dsn": dsn}, format="json")
        assert answer.status_code == 400 and "Only an admin" in answer.json()["source_dsn"][0]
    batman.refresh_from_db()
    assert batman.source_dsn == ACCEPTED[0]
    # the rest of the workload stays the operator's
    assert operator_api.patch(workload_url(batman), {"dns_name": "db.corp"}, format="json").status_code == 200


def targets_post(plan, batman, dsn):
    return {"account": plan.account_id, "sync_every_minutes": 15, f"w{batman.pk}-dns_name": "batman",
            f"w{batman.pk}-source_dsn": dsn}


def test_the_console_form_refuses_a_bad_dsn_with_a_field_error(admin_user, plan, batman):
    client = Client()
    client.force_login(admin_user)
    url = reverse("migrations_tool:plan_targets", args=[plan.pk])
    answer = client.post(url, targets_post(plan, batman, REFUSED[1]))
    assert answer.status_code == 200
    assert "Name the database server by host name or IP address" in answer.content.decode()
    batman.refresh_from_db()
    assert batman.source_dsn == ""
    answer = client.post(url, targets_post(plan, batman, ACCEPTED[0]))
    assert answer.status_code == 302
    batman.refresh_from_db()
    assert batman.source_dsn == ACCEPTED[0]
    page = client.get(url).content.decode()
    assert "A DSN is stored." in page and "s3cret" not in page


def test_in_the_console_an_operator_sees_the_dsn_field_disabled_and_cannot_set_it(operator, plan, batman):
    client = Client()
    client.force_login(operator)
    url = reverse("migrations_tool:plan_targets", args=[plan.pk])
    page = client.get(url).content.decode()
    assert "Only an admin may set the source database DSN" in page
    answer = client.post(url, targets_post(plan, batman, ACCEPTED[0]))
    assert answer.status_code == 302  # the rest of the step is saved...
    batman.refresh_from_db()
    assert batman.source_dsn == "" and batman.dns_name == "batman"  # ...the DSN is not


def test_a_stored_dsn_from_before_the_rules_stops_the_run(operator, plan, batman):
    plan.workloads.exclude(pk=batman.pk).update(strategy="retain")
    PlannedWorkload.objects.filter(pk=batman.pk).update(source_dsn="host=/var/run/postgresql dbname=opsconsole")
    problems = plans.readiness(plan)
    assert any(p.startswith("batman: the source database DSN is refused") for p in problems)
    with pytest.raises(ValidationError, match="the source database DSN is refused"):
        runs.start_run(plan, user=operator)
    assert not Run.objects.exists()


def test_dsn_changes_are_in_the_change_log_with_the_password_masked(admin_api, admin_user, batman):
    admin_api.patch(workload_url(batman), {"source_dsn": ACCEPTED[0]}, format="json")
    entry = LogEntry.objects.get_for_object(batman).latest("timestamp")
    assert entry.actor == admin_user
    old, new = entry.changes_dict["source_dsn"]
    assert old == "" and "s3cret" not in new and "password=********" in new and "host=db.example" in new
    assert "s3cret" not in str(admin_api.get("/api/changelog/", {"limit": 100}).json())


def test_plans_waves_workloads_and_dependencies_are_in_the_change_log(operator_api, operator, plan, batman):
    wave = Wave.objects.create(plan=plan, number=9, name="late")
    luna = plan.workloads.get(name="luna")
    dependency = Dependency.objects.create(source_host=luna.host, target_host=batman.host)
    plans.change_workload(luna, strategy="retain")
    plan.name = "Wave one"
    plan.save()
    for obj in (plan, wave, luna, dependency):
        assert LogEntry.objects.get_for_object(obj).exists(), obj


def test_masking_keeps_everything_but_the_password():
    assert conninfo_to_dict(masked("postgresql://app:pw@db.example:5432/sales")) == {
        "user": "app", "password": "********", "dbname": "sales", "host": "db.example", "port": "5432"
    }
    assert conninfo_to_dict(masked("host=db.example dbname=sales")) == {"host": "db.example", "dbname": "sales"}
    assert masked("") == ""


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_the_consoles_own_database_is_not_a_source(monkeypatch, host):
    own = {"ENGINE": "django.db.backends.postgresql", "NAME": "opsconsole", "HOST": "", "PORT": ""}
    monkeypatch.setattr(source_dsn, "console_database", lambda: own)
    with pytest.raises(ValidationError, match="the console's own database"):
        parse_source_dsn(f"postgresql://postgres@[{host}]:5432/opsconsole" if ":" in host
                         else f"host={host} port=5432 dbname=opsconsole user=postgres")
    # another database on that server, or the same name on another server, is a source
    assert parse_source_dsn(f"host={host} dbname=batman")["dbname"] == "batman"
    assert parse_source_dsn("host=db.example dbname=opsconsole")["host"] == "db.example"
