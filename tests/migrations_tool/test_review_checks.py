"""The review asks the cloud and the sources for what the run will use, and starting a run
asks again: a plan that reviews green runs through test cutover on the embedded cloud,
and one whose targets or sources are missing says so before anything starts. Against the
embedded cloud (moto's server over HTTP) and the local PostgreSQL server."""

import logging
import uuid

import psycopg
import pytest
from django.core.exceptions import ValidationError

from cloud.drivers import aws
from cloud.models import RdsDatabase
from cloud.services import rds_replatform
from cloud.services.accounts import ensure_embedded_account, prepare_embedded_cloud
from cloud.services.workloads import load_workloads
from inventory.models import JournalEntry
from migrations_tool.models import Run, StepState
from migrations_tool.services import plans, runs
from migrations_tool.services.assessment import assess
from tests.conftest import wait_for
from tests.fixtures.cloud import free_port

from .conftest import work

PLANS = "/api/migrations/plans/"
SERVER = "postgres://postgres@127.0.0.1:5432"


def plan_of(estate, account, *names, name="Wave"):
    ids = [estate["hosts"][n].pk for n in names]
    return plans.create_plan(name, assess(load_workloads(host_ids=ids), account=account), account=account)


@pytest.fixture
def disk(tmp_path):
    path = tmp_path / "luna.raw"
    with open(path, "wb") as image:
        image.truncate(4 * 1024 * 1024)
        image.write(b"\x01" * 512 * 1024)
    return path


@pytest.mark.worker
def test_a_fresh_demo_plan_reviews_green_and_runs_through_test_cutover_on_a_real_worker(
        celery_worker_process, estate, cloud, disk, operator_api):
    account, created = ensure_embedded_account(endpoint=cloud)
    assert created and (account.default_subnet, account.default_key_pair) == ("default", "opsconsole")
    plan = plan_of(estate, account, "luna")
    plan.workloads.update(disk=str(disk))

    # A fresh moto server has no key pair: the review says so (cloud_server makes it at start).
    problems = operator_api.get(f"{PLANS}{plan.pk}/review/").json()["problems"]
    assert problems == ["No key pair is named 'opsconsole' in us-east-1: import a public key under that name in "
                        "EC2, or choose another key pair."]
    assert prepare_embedded_cloud(account) == ["key pair opsconsole"]
    assert prepare_embedded_cloud(account) == []  # idempotent
    assert operator_api.get(f"{PLANS}{plan.pk}/review/").json()["problems"] == []

    started = operator_api.post(f"{PLANS}{plan.pk}/start/", {}, format="json")
    assert started.status_code == 202, started.content
    run_url = f"/api/migrations/runs/{started.json()['run']}/"

    def settled():
        body = operator_api.get(run_url).json()
        return body if body["state"] not in ("pending", "running") else None
    body = wait_for(settled, timeout=120)
    assert body and body["state"] == "waiting", body
    tested = operator_api.post(f"{run_url}test-cutover/", {}, format="json")
    assert tested.status_code == 202, tested.content

    def tested_once():
        body = settled()
        return body if body and any(s["kind"] == "test_cutover" and s["state"] != "pending" for s in body["steps"]) \
            else None
    body = wait_for(tested_once, timeout=120)
    assert body and body["state"] == "waiting", operator_api.get(run_url).json()
    instance_id = Run.objects.get(pk=body["id"]).steps.get(kind="test_cutover").checkpoint["instance_id"]
    ec2 = aws.client(account, "ec2")
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    default_subnets = {s["SubnetId"] for s in ec2.describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]}
    assert instance["KeyName"] == "opsconsole" and instance["SubnetId"] in default_subnets
    assert instance["State"]["Name"] == "running"


@pytest.fixture
def unreachable_dsn():
    return f"postgres://postgres@127.0.0.1:{free_port()}/batman"


def test_the_review_names_every_missing_target_and_source_and_start_refuses_the_same(
        estate, embedded_account, operator_api, unreachable_dsn):
    embedded_account.default_subnet, embedded_account.default_security_group = "nowhere", "nobody"
    embedded_account.default_key_pair = "nokey"
    embedded_account.save()
    plan = plan_of(estate, embedded_account, "luna", "batman")
    plan.dns_zone = "missing.example."
    plan.save()
    plan.workloads.filter(name="luna").update(disk="/nonexistent/luna.raw")
    plan.workloads.filter(name="batman").update(source_dsn=unreachable_dsn)

    problems = operator_api.get(f"{PLANS}{plan.pk}/review/").json()["problems"]
    expected = ["No subnet is named 'nowhere' in us-east-1", "No security group is named 'nobody'",
                "No key pair is named 'nokey'", "no Route 53 hosted zone missing.example.",
                "luna: Disk: /nonexistent/luna.raw is not under a declared image root", "batman: Cannot connect to"]
    for part in expected:
        assert sum(part in problem for problem in problems) == 1, (part, problems)
    assert len(problems) == len(expected), problems
    assert not any("{" in problem or "Traceback" in problem for problem in problems)

    answer = operator_api.post(f"{PLANS}{plan.pk}/start/", {}, format="json")
    assert answer.status_code == 400 and answer.json()["non_field_errors"] == problems
    assert not Run.objects.exists()


def test_a_vm_is_replicated_only_from_a_disk_its_hypervisor_shows(estate, embedded_account, operator, tmp_path):
    vm = estate["vms"]["vm-app"]
    plan = plans.create_plan("VM", assess(load_workloads(vm_ids=[vm.pk]), account=embedded_account),
                             account=embedded_account)
    plan.workloads.update(strategy="rehost-ec2", instance_type="t3.micro", disk="/etc/passwd")
    with pytest.raises(ValidationError) as refused:
        runs.start_run(plan, operator)
    assert refused.value.messages == [f"vm-app: Disk: /etc/passwd is not under a declared image root ({tmp_path})."]
    # One of its disks: asked of its hypervisor (which does not answer here), never taken on trust.
    plan.workloads.update(disk="vda")
    with pytest.raises(ValidationError) as unreachable:
        runs.start_run(plan, operator)
    assert len(unreachable.value.messages) == 1
    assert unreachable.value.messages[0].startswith("vm-app: Disk: hv1 does not answer")
    assert not Run.objects.exists()


def test_a_disk_gone_after_the_review_fails_the_step_with_a_sentence(estate, embedded_account, disk, operator,
                                                                      operator_api, caplog):
    plan = plan_of(estate, embedded_account, "luna")
    plan.workloads.update(disk=str(disk))
    run = runs.start_run(plan, operator)
    disk.unlink()
    with caplog.at_level(logging.ERROR, logger="migrations_tool.services.runs"):
        run = work(run)
    said = f"Disk: There is no image file at {disk}."
    assert run.state == Run.State.FAILED and run.message == f"luna: {said}"
    step = run.steps.get(kind="replicate")
    assert (step.state, step.error) == (StepState.FAILED, said)
    body = operator_api.get(f"/api/migrations/runs/{run.pk}/").json()
    assert body["steps"][0]["error"] == said and "Traceback" not in str(body)
    job = operator_api.get(f"/api/jobs/{run.job_id}/").json()
    assert job["error"] == f"luna: Replicate the disk (initial) failed: {said}"
    assert any(record.exc_info for record in caplog.records)  # the trace is in the server log


@pytest.fixture
def rds_prefix(settings):
    settings.OPSCONSOLE_CLOUD_RDS_LOCAL_PREFIX = f"rds_t{uuid.uuid4().hex[:8]}_"


@pytest.fixture
def unreadable_source(rds_prefix):
    """A source that answers, as a user who may connect but not read its table: pg_dump fails."""
    name, role = f"src_{uuid.uuid4().hex[:10]}", f"reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
        connection.execute(f'CREATE ROLE "{role}" LOGIN')
    with psycopg.connect(f"{SERVER}/{name}") as connection:
        connection.execute("CREATE TABLE secrets (id int PRIMARY KEY)")
        connection.execute(f'REVOKE ALL ON secrets FROM "{role}"')
    yield f"postgres://{role}@127.0.0.1:5432/{name}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'DROP ROLE IF EXISTS "{role}"')


def local_database_exists(identifier):
    with psycopg.connect(f"{SERVER}/postgres") as connection:
        return connection.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  [rds_replatform.local_database_name(identifier)]).fetchone() is not None


def test_a_run_failing_on_its_source_reports_the_rds_instance_it_made_and_rollback_deletes_it(
        estate, embedded_account, unreadable_source, operator):
    plan = plan_of(estate, embedded_account, "batman")
    plan.workloads.update(source_dsn=unreadable_source)
    try:
        run = work(runs.start_run(plan, operator))  # the source answers: the review lets it start
        assert run.state == Run.State.FAILED, run.message
        identifier = run.steps.get(kind="create_database").checkpoint["identifier"]
        copy = run.steps.get(kind="copy_data")
        assert copy.state == StepState.FAILED and "permission denied" in copy.error
        assert (f"Left in the cloud by this run: RDS instance {identifier} (and its database); resume once fixed, "
                f"or roll back to delete it.") in copy.error
        assert RdsDatabase.objects.filter(identifier=identifier).exists() and local_database_exists(identifier)
        assert JournalEntry.objects.filter(host=estate["hosts"]["batman"], text__contains=identifier).exists()

        run = work(runs.add_action(run, "rollback", operator))
        assert run.state == Run.State.ROLLED_BACK, run.message
        described = aws.client(embedded_account, "rds").describe_db_instances()["DBInstances"]
        assert identifier not in {item["DBInstanceIdentifier"] for item in described}
        assert not RdsDatabase.objects.filter(identifier=identifier).exists()
        assert not local_database_exists(identifier)
    finally:
        for database in embedded_account.rds_databases.all():
            rds_replatform.delete_instance(embedded_account, database.identifier)


def test_a_source_gone_after_the_review_creates_nothing(estate, embedded_account, rds_prefix, operator,
                                                         unreachable_dsn):
    plan = plan_of(estate, embedded_account, "batman")
    plan.workloads.update(source_dsn=f"{SERVER}/postgres")
    run = runs.start_run(plan, operator)
    plan.workloads.update(source_dsn=unreachable_dsn)  # the database went away meanwhile
    run = work(run)
    step = run.steps.get(kind="create_database")
    assert step.state == StepState.FAILED and step.error.endswith("Nothing was created in the cloud.")
    assert "Left in the cloud" not in step.error
    assert not RdsDatabase.objects.exists()
    assert aws.client(embedded_account, "rds").describe_db_instances()["DBInstances"] == []
