"""Runs on a real Celery worker: a running guest moves live to another hypervisor of the
real libvirt lab, started and followed through the API; and a worker killed in the middle
of a replication to the embedded cloud, whose run is taken over and resumes from the last
acknowledged block."""

import os
import signal

import pytest

from cloud.models import DiskReplication, ReplicatedBlock
from cloud.services.workloads import load_workloads
from core.models import Job
from hypervisors.models import VirtualMachine
from hypervisors.services import sync
from migrations_tool import tasks
from migrations_tool.models import Run, RunStep
from migrations_tool.services import plans, runs
from migrations_tool.services.assessment import assess
from tests.conftest import wait_for
from tests.hypervisors.conftest import start_guest, where_is

pytestmark = pytest.mark.worker

BLOCK = 512 * 1024


@pytest.mark.lab
def test_a_rehost_run_moves_a_vm_on_a_real_worker(celery_worker_process, lab_hypervisors, operator_api):
    rhine, danube = lab_hypervisors["rhine"], lab_hypervisors["danube"]
    domain_uuid = start_guest(rhine, "saturn")
    sync.sync_hypervisor(rhine)
    vm = VirtualMachine.objects.get(uuid=domain_uuid)

    plan = operator_api.post("/api/migrations/plans/", {"name": "saturn to danube", "vms": [vm.pk]}, format="json")
    assert plan.status_code == 201, plan.content
    workload = operator_api.get("/api/migrations/workloads/", {"plan": plan.json()["id"]}).json()["results"][0]
    changed = operator_api.patch(f"/api/migrations/workloads/{workload['id']}/",
                                 {"strategy": "rehost-hypervisor", "target_hypervisor": danube.pk}, format="json")
    assert changed.status_code == 200, changed.content
    started = operator_api.post(f"/api/migrations/plans/{plan.json()['id']}/start/", {}, format="json")
    assert started.status_code == 202, started.content
    run_id = started.json()["run"]

    finished = wait_for(lambda: Run.objects.get(pk=run_id).state not in Run.ACTIVE_STATES, timeout=120)
    run = operator_api.get(f"/api/migrations/runs/{run_id}/").json()
    job = operator_api.get(started.json()["url"]).json()
    assert finished and run["state"] == "done", (run, job["log"], job["error"])
    assert run["steps"][0]["state"] == "done" and run["steps"][0]["progress"] == 100
    assert job["state"] == "succeeded" and "Live migration of saturn to danube" in job["log"]
    assert where_is(lab_hypervisors, domain_uuid) == (["danube"], ["danube"])
    vm.refresh_from_db()
    assert vm.hypervisor_id == danube.pk
    assert operator_api.get(f"/api/migrations/workloads/{workload['id']}/").json()["status"] == "migrated"


def test_a_worker_killed_mid_replication_is_taken_over_and_resumes_from_the_last_block(
        celery_worker_process, estate, embedded_account, operator, operator_api, tmp_path):
    blocks = 160  # 80 MiB of data: long enough to be caught half way
    disk = tmp_path / "luna.raw"
    with open(disk, "wb") as image:
        for _ in range(blocks):
            image.write(os.urandom(BLOCK))
    luna = estate["hosts"]["luna"]
    plan = plans.create_plan("EC2", assess(load_workloads(host_ids=[luna.pk]), account=embedded_account),
                             account=embedded_account)
    plan.workloads.update(disk=str(disk))
    run = runs.start_run(plan, operator)  # queued on commit: the worker takes it
    first_job = run.job_id

    def half_way():
        replication = DiskReplication.objects.first()
        return replication is not None and 0 < replication.bytes_sent < blocks * BLOCK // 2
    assert wait_for(half_way, timeout=60, interval=0.02), "the replication was never seen half way"
    os.kill(celery_worker_process.pid, signal.SIGKILL)  # the worker dies mid-step
    celery_worker_process.wait(timeout=10)

    step = RunStep.objects.get(run=run, kind="replicate")
    assert step.state == "running" and step.checkpoint["replication_id"]
    acknowledged = ReplicatedBlock.objects.count()
    assert 0 < acknowledged < blocks
    assert Job.objects.get(pk=first_job).state == Job.State.RUNNING  # nobody could tell it ended

    refused = operator_api.post(f"/api/migrations/runs/{run.pk}/resume/", {}, format="json")
    assert refused.status_code == 409 and "take it over" in refused.json()["detail"]
    taken = operator_api.post(f"/api/migrations/runs/{run.pk}/resume/", {"take_over": True}, format="json")
    assert taken.status_code == 202, taken.content
    assert Job.objects.get(pk=first_job).state == Job.State.FAILED
    tasks.run_job(taken.json()["job"])  # a new worker (this process) executes the new job

    run.refresh_from_db()
    step.refresh_from_db()
    assert run.state == Run.State.WAITING, run.message
    assert step.state == "done" and step.attempts == 2 and step.checkpoint["verified"]
    assert ReplicatedBlock.objects.count() == blocks  # every block once: the resumed pass sent only the rest
    log = Job.objects.get(pk=taken.json()["job"]).log
    assert "resumed from its checkpoint" in log and f"{acknowledged} already acknowledged" in log
