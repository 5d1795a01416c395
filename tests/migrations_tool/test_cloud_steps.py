"""The real EC2 and RDS steps against the embedded cloud (moto's server over HTTP) and the
local PostgreSQL server: a disk image really replicated block by block, an instance
launched, DNS moved and moved back; a database really copied, verified, made read-only
and writable again. Run in this process (test_worker.py runs a real worker)."""

import uuid

import psycopg
import pytest

from cloud.drivers import aws
from cloud.models import DiskReplication
from cloud.services import rds_replatform
from cloud.services.workloads import load_workloads
from hypervisors.models import VirtualMachine
from inventory.models import JournalEntry
from migrations_tool import tasks
from migrations_tool.models import Run, StepState
from migrations_tool.services import plans, runs
from migrations_tool.services.assessment import assess

BLOCK = 512 * 1024
ZONE = "corp.example."


def work(run):
    run.refresh_from_db()
    tasks.run_job(run.job_id)
    run.refresh_from_db()
    return run


def a_record(account, name):
    client = aws.client(account, "route53")
    zone = client.list_hosted_zones_by_name(DNSName=ZONE)["HostedZones"][0]["Id"]
    for record in client.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]:
        if record["Name"] == f"{name}.{ZONE}" and record["Type"] == "A":
            return record["ResourceRecords"][0]["Value"]
    return None


def instance_state(account, instance_id):
    described = aws.client(account, "ec2").describe_instances(InstanceIds=[instance_id])
    return described["Reservations"][0]["Instances"][0]["State"]["Name"]


@pytest.fixture
def disk(tmp_path):
    """A sparse 8 MiB raw image with three blocks of data."""
    path = tmp_path / "luna.raw"
    with open(path, "wb") as image:
        image.truncate(8 * 1024 * 1024)
        for index in (0, 3, 9):
            image.seek(index * BLOCK)
            image.write(bytes([index + 1]) * BLOCK)
    return path


@pytest.fixture
def zone(embedded_account):
    client = aws.client(embedded_account, "route53")
    zone_id = client.create_hosted_zone(Name=ZONE, CallerReference=uuid.uuid4().hex)["HostedZone"]["Id"]
    client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{
        "Action": "UPSERT", "ResourceRecordSet": {"Name": f"luna.{ZONE}", "Type": "A", "TTL": 60,
                                                  "ResourceRecords": [{"Value": "10.0.0.5"}]}}]})
    return ZONE


def test_rehost_to_ec2_replicates_tests_cuts_over_and_rolls_back(estate, embedded_account, zone, disk, operator):
    luna = estate["hosts"]["luna"]
    plan = plans.create_plan("EC2", assess(load_workloads(host_ids=[luna.pk]), account=embedded_account),
                             account=embedded_account)
    plan.dns_zone = zone
    plan.save()
    planned = plan.workloads.get()
    assert planned.strategy == "rehost-ec2"
    planned.disk = str(disk)
    planned.save()

    run = work(runs.start_run(plan, operator))
    assert run.state == Run.State.WAITING, run.message
    replicate = run.steps.get(kind="replicate")
    assert replicate.state == StepState.DONE and replicate.bytes_total == 3 * BLOCK
    assert replicate.checkpoint["verified"] and replicate.checkpoint["snapshot_id"]

    with open(disk, "r+b") as image:  # the source keeps running and writing
        image.seek(5 * BLOCK)
        image.write(b"\x07" * BLOCK)
    run = work(runs.add_action(run, "sync", operator))
    sync = run.steps.filter(kind="sync").order_by("-position").first()
    assert sync.bytes_total == BLOCK and sync.checkpoint["snapshot_id"] != replicate.checkpoint["snapshot_id"]

    run = work(runs.add_action(run, "test_cutover", operator))
    test_instance = run.steps.get(kind="test_cutover").checkpoint["instance_id"]
    assert instance_state(embedded_account, test_instance) == "running"
    assert a_record(embedded_account, "luna") == "10.0.0.5"  # a test changes nothing for clients

    run = work(runs.add_action(run, "cutover", operator))
    assert run.state == Run.State.DONE, run.message
    planned.refresh_from_db()
    assert planned.status == "migrated" and planned.cloud_instance_id.startswith("i-")
    assert a_record(embedded_account, "luna") == planned.cloud_address
    assert instance_state(embedded_account, test_instance) == "terminated"
    assert JournalEntry.objects.filter(host=luna, text__contains=planned.cloud_instance_id).exists()
    luna.refresh_from_db()
    assert (luna.status, luna.cloud_instance_id) == ("migrated", planned.cloud_instance_id)

    run = work(runs.add_action(run, "rollback", operator))
    assert run.state == Run.State.ROLLED_BACK, run.message
    assert instance_state(embedded_account, run.steps.get(kind="cutover").checkpoint["instance_id"]) == "terminated"
    assert a_record(embedded_account, "luna") == "10.0.0.5"
    luna.refresh_from_db()
    assert (luna.status, luna.cloud_instance_id) == ("active", "")


@pytest.fixture
def source_database(settings):
    """A PostgreSQL database on the local server with a little data, and the embedded
    cloud's RDS databases given a prefix of this test's own."""
    settings.OPSCONSOLE_CLOUD_RDS_LOCAL_PREFIX = f"rds_t{uuid.uuid4().hex[:8]}_"
    name = f"src_{uuid.uuid4().hex[:10]}"
    server = "postgres://postgres@127.0.0.1:5432"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    dsn = f"{server}/{name}"
    with psycopg.connect(dsn) as connection:
        connection.execute("CREATE TABLE heroes (id serial PRIMARY KEY, name text NOT NULL)")
        connection.execute("INSERT INTO heroes (name) SELECT 'hero ' || n FROM generate_series(1, 500) n")
    yield dsn
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_replatform_to_rds_moves_real_data_and_points_back(estate, embedded_account, source_database, operator):
    batman = estate["hosts"]["batman"]
    plan = plans.create_plan("RDS", assess(load_workloads(host_ids=[batman.pk]), account=embedded_account),
                             account=embedded_account)
    planned = plan.workloads.get()
    assert planned.strategy == "replatform-rds"
    planned.source_dsn = source_database
    planned.save()
    try:
        run = work(runs.start_run(plan, operator))
        assert run.state == Run.State.WAITING, run.message
        identifier = run.steps.get(kind="create_database").checkpoint["identifier"]
        target = rds_replatform.endpoint_dsn(embedded_account, identifier)
        with psycopg.connect(target) as connection:
            assert connection.execute("SELECT count(*) FROM heroes").fetchone()[0] == 500
        assert run.steps.get(kind="verify_data").checkpoint["outcome"]["report"]["ok"] is True

        run = work(runs.add_action(run, "cutover", operator))
        assert run.state == Run.State.DONE, run.message
        assert rds_replatform.is_read_only(source_database)  # kept read-only until finalised
        planned.refresh_from_db()
        assert planned.status == "migrated" and planned.cloud_instance_id == identifier
        batman.refresh_from_db()
        assert (batman.status, batman.cloud_instance_id) == ("migrated", identifier)

        run = work(runs.add_action(run, "rollback", operator))
        assert run.state == Run.State.ROLLED_BACK
        assert not rds_replatform.is_read_only(source_database)
        batman.refresh_from_db()
        assert (batman.status, batman.cloud_instance_id) == ("active", "")
    finally:
        for database in embedded_account.rds_databases.all():
            rds_replatform.delete_instance(embedded_account, database.identifier)


def test_a_cutover_that_fails_half_way_is_shown_and_rolled_back(estate, embedded_account, disk, operator):
    """The DNS zone is deleted after the run started: the cutover launches the instance,
    then fails on DNS. The run says so; the rollback terminates that instance, though the
    cutover never finished."""
    luna = estate["hosts"]["luna"]
    plan = plans.create_plan("EC2", assess(load_workloads(host_ids=[luna.pk]), account=embedded_account),
                             account=embedded_account)
    route53 = aws.client(embedded_account, "route53")
    zone_id = route53.create_hosted_zone(Name="going.example.", CallerReference=uuid.uuid4().hex)["HostedZone"]["Id"]
    plan.dns_zone = "going.example."
    plan.save()
    plan.workloads.update(disk=str(disk))
    run = work(runs.start_run(plan, operator))
    route53.delete_hosted_zone(Id=zone_id)  # the cloud changed since the review
    run = work(runs.add_action(run, "cutover", operator))
    assert run.state == Run.State.FAILED and "going.example" in run.message
    cutover = run.steps.get(kind="cutover")
    assert cutover.state == StepState.FAILED and cutover.checkpoint["instance_id"]
    assert plan.workloads.get().status == "failed"
    luna.refresh_from_db()
    assert (luna.status, luna.cloud_instance_id) == ("active", "")  # the inventory still has it at home

    run = work(runs.add_action(run, "rollback", operator))
    assert run.state == Run.State.ROLLED_BACK, run.message
    assert instance_state(embedded_account, cutover.checkpoint["instance_id"]) == "terminated"
    assert plan.workloads.get().status == "rolled-back"


def test_a_vm_cut_over_to_ec2_is_marked_migrated_with_its_host_record(estate, embedded_account, disk, operator):
    """A shut-off VM (no power action needed): the VM and the inventory host that is its
    record both point at the instance; the host's status is migrated."""
    vm, record = estate["vms"]["vm-app"], estate["hosts"]["odin"]
    VirtualMachine.objects.filter(pk=vm.pk).update(state="shutoff", inventory_host=record,
                                                   disks=[{"path": str(disk), "size_bytes": disk.stat().st_size}])
    plan = plans.create_plan("VM to EC2", assess(load_workloads(vm_ids=[vm.pk]), account=embedded_account),
                             account=embedded_account)
    plan.workloads.update(disk=str(disk), strategy="rehost-ec2", instance_type="t3.micro")
    run = work(runs.start_run(plan, operator))
    run = work(runs.add_action(run, "cutover", operator))
    assert run.state == Run.State.DONE, run.message
    instance_id = run.steps.get(kind="cutover").checkpoint["instance_id"]
    vm.refresh_from_db()
    record.refresh_from_db()
    assert vm.cloud_instance_id == instance_id and vm.state == "shutoff"
    assert (record.status, record.cloud_instance_id) == ("migrated", instance_id)


def test_finalize_deletes_the_replication_snapshots_and_test_images_but_keeps_the_launched_image(
        estate, embedded_account, disk, operator):
    luna = estate["hosts"]["luna"]
    plan = plans.create_plan("EC2", assess(load_workloads(host_ids=[luna.pk]), account=embedded_account),
                             account=embedded_account)
    plan.workloads.update(disk=str(disk))
    run = work(runs.start_run(plan, operator))
    with open(disk, "r+b") as image:
        image.seek(5 * BLOCK)
        image.write(b"\x07" * BLOCK)
    run = work(runs.add_action(run, "sync", operator))
    run = work(runs.add_action(run, "test_cutover", operator))
    with open(disk, "r+b") as image:  # written to after the test: the cutover sends a last delta
        image.seek(6 * BLOCK)
        image.write(b"\x08" * BLOCK)
    run = work(runs.add_action(run, "cutover", operator))
    assert run.state == Run.State.DONE, run.message
    test_image = run.steps.get(kind="test_cutover").checkpoint["ami_id"]
    kept_image = run.steps.get(kind="cutover").checkpoint["ami_id"]
    ec2 = aws.client(embedded_account, "ec2")
    replication = DiskReplication.objects.get()
    snapshot_ids = list(replication.snapshots.values_list("snapshot_id", flat=True))
    assert len(snapshot_ids) == 3  # the full copy, the sync, the cutover's last delta

    run = work(runs.add_action(run, "finalize", operator))

    assert run.state == Run.State.DONE, run.message
    images = {image["ImageId"] for image in ec2.describe_images(Owners=["self"])["Images"]}
    assert kept_image in images and test_image not in images
    left = {snapshot["SnapshotId"] for snapshot in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert left & set(snapshot_ids) == {snapshot_ids[-1]}  # the one the launched image was made from
    assert list(replication.snapshots.values_list("state", flat=True)) == ["deleted", "deleted", "completed"]
    assert "Deleted 2 replication snapshots and 1 test images" in run.job.log
