"""The run state machine: steps move only along allowed transitions, record checkpoints,
resume after a failure or a dead worker, pause, cancel and roll back. Executors are
replaced by small fakes here (the real ones run in test_worker.py and test_cloud_steps.py)."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cloud.services.workloads import load_workloads
from core.models import Job
from migrations_tool import tasks
from migrations_tool.models import PlannedWorkload, Run, RunStep, StepState, Strategy
from migrations_tool.services import executors, plans, runs, steps
from migrations_tool.services.assessment import assess

LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"  # answers: the review asks every source

@pytest.fixture
def fake_executors(monkeypatch):
    """Every executor records its call; `fail` and `pause` make chosen kinds misbehave once."""
    calls, behaviour = [], {"fail": set(), "pause": set(), "cancel": set()}

    def fake(step, recorder):
        calls.append((step.workload.name, step.kind, dict(step.checkpoint)))
        steps.save_checkpoint(step, first_half=True)
        recorder.progress(50, "half way")
        if step.kind in behaviour["pause"]:
            behaviour["pause"].discard(step.kind)
            Run.objects.filter(pk=step.run_id).update(control=Run.Control.PAUSE)
            recorder.progress(60, "still going")  # the pause takes effect here
        if step.kind in behaviour["cancel"]:
            Run.objects.filter(pk=step.run_id).update(control=Run.Control.CANCEL)
            recorder.progress(60, "still going")
        if step.kind in behaviour["fail"]:
            behaviour["fail"].discard(step.kind)
            raise RuntimeError("the network went away")
        return {"done": step.kind}

    for kind in executors.EXECUTORS:
        monkeypatch.setitem(executors.EXECUTORS, kind, fake)
    return calls, behaviour


@pytest.fixture
def plan(estate, operator):
    hosts, vms = estate["hosts"], estate["vms"]
    workloads = load_workloads(host_ids=[hosts["luna"].pk, hosts["batman"].pk], vm_ids=[vms["vm-huge"].pk])
    made = plans.create_plan("Cloud wave", assess(workloads), user=operator)
    batman = made.workloads.get(name="batman")
    batman.source_dsn = "postgres://postgres@127.0.0.1/batman"
    batman.save()
    return made


def work(run):
    """Execute the run's current job in this process, as the worker would."""
    run.refresh_from_db()
    tasks.run_job(run.job_id)
    run.refresh_from_db()
    return run


def states(run):
    return [(s.workload.name, s.kind, s.state) for s in run.steps.select_related("workload").order_by("position")]


def test_a_plan_going_to_aws_needs_an_account_before_it_starts(plan, operator):
    with pytest.raises(ValidationError) as refused:
        runs.start_run(plan, operator)
    assert "choose the cloud account" in " ".join(refused.value.messages)


@pytest.fixture
def ready_plan(plan, embedded_account, tmp_path):
    """The plan on the embedded cloud, with sources that answer: luna's disk image, and a
    source database on the local PostgreSQL server (the executors are faked)."""
    disk = tmp_path / "luna.raw"
    disk.write_bytes(bytes(1024 * 1024))
    plan.account = embedded_account
    plan.save()
    plan.workloads.filter(name="luna").update(disk=str(disk))
    plan.workloads.filter(name="batman").update(source_dsn=LOCAL_POSTGRES)
    return plan


def test_a_run_replicates_and_waits_for_cutover(ready_plan, operator, fake_executors):
    calls, _ = fake_executors
    run = work(runs.start_run(ready_plan, operator))
    assert {(name, kind) for name, kind, _ in calls} == {
        ("batman", "create_database"), ("batman", "copy_data"), ("batman", "verify_data"),
        ("luna", "replicate"), ("luna", "sync"), ("vm-huge", "migrate_vm")}
    assert run.state == Run.State.WAITING
    assert all(state == StepState.DONE for _, _, state in states(run))
    statuses = dict(ready_plan.workloads.values_list("name", "status"))
    assert statuses == {"luna": "ready-for-cutover", "batman": "ready-for-cutover", "vm-huge": "migrated"}
    assert Job.objects.get(pk=run.job_id).state == Job.State.SUCCEEDED


def test_cutover_then_rollback_append_their_steps(ready_plan, operator, fake_executors):
    run = work(runs.start_run(ready_plan, operator))
    with pytest.raises(runs.RunRefused):
        runs.add_action(run, "nonsense", operator)
    run = work(runs.add_action(run, "test_cutover", operator))
    assert run.state == Run.State.WAITING  # a test cutover leaves the source as it was
    run = work(runs.add_action(run, "cutover", operator))
    assert run.state == Run.State.DONE
    kinds = [kind for _, kind, _ in states(run)]
    assert kinds[-3:] == ["test_cutover", "db_cutover", "cutover"] or kinds[-3:] == ["test_cutover", "cutover", "db_cutover"]
    run = work(runs.add_action(run, "rollback", operator))
    assert [kind for _, kind, _ in states(run)][-3:] == ["db_rollback", "rollback", "migrate_back"]
    assert run.state == Run.State.ROLLED_BACK
    assert set(ready_plan.workloads.values_list("status", flat=True)) == {"rolled-back"}


def test_finalize_keeps_the_move_and_ends_the_way_back(ready_plan, operator, fake_executors):
    run = work(runs.start_run(ready_plan, operator))
    with pytest.raises(runs.RunRefused, match="once it is done"):
        runs.add_action(run, "finalize", operator)
    run = work(runs.add_action(run, "cutover", operator))
    run = work(runs.add_action(run, "finalize", operator))
    assert run.state == Run.State.DONE
    assert set(ready_plan.workloads.values_list("status", flat=True)) == {"finalized"}
    with pytest.raises(runs.RunRefused, match="No workload"):
        runs.add_action(run, "rollback", operator)


def test_a_failed_step_fails_the_run_and_resumes_from_its_checkpoint(ready_plan, operator, fake_executors):
    calls, behaviour = fake_executors
    behaviour["fail"].add("copy_data")
    run = work(runs.start_run(ready_plan, operator))
    assert run.state == Run.State.FAILED and "the network went away" in run.message
    failed = run.steps.get(kind="copy_data")
    assert failed.state == StepState.FAILED and failed.error == "the network went away"  # a sentence, no trace
    assert failed.checkpoint == {"first_half": True}
    assert Job.objects.get(pk=run.job_id).state == Job.State.FAILED
    assert run.steps.filter(state=StepState.PENDING).exists()  # nothing after it ran
    run = work(runs.resume(run, operator))
    assert run.state == Run.State.WAITING
    retried = [checkpoint for name, kind, checkpoint in calls if kind == "copy_data"]
    assert retried == [{}, {"first_half": True}]  # the second attempt saw the first one's checkpoint
    assert run.steps.get(kind="copy_data").attempts == 2


def test_a_step_left_running_by_a_dead_worker_runs_again_from_its_checkpoint(ready_plan, operator, fake_executors):
    calls, _ = fake_executors
    run = runs.start_run(ready_plan, operator)
    first = run.steps.order_by("position").first()
    steps.transition(first, StepState.RUNNING)  # the worker took it...
    steps.save_checkpoint(first, replication_id=7)  # ...did part of it, and died
    Job.objects.filter(pk=run.job_id).update(state=Job.State.RUNNING)  # the message is redelivered
    run = work(run)
    assert run.state == Run.State.WAITING
    assert (first.workload.name, first.kind, {"replication_id": 7}) in calls
    assert "resumed from its checkpoint" in Job.objects.get(pk=run.job_id).log


def test_pause_keeps_the_step_and_resume_finishes_it(ready_plan, operator, fake_executors):
    calls, behaviour = fake_executors
    behaviour["pause"].add("replicate")
    run = work(runs.start_run(ready_plan, operator))
    assert run.state == Run.State.PAUSED
    paused = run.steps.get(kind="replicate")
    assert paused.state == StepState.PENDING and paused.checkpoint == {"first_half": True}
    with pytest.raises(runs.RunRefused):
        runs.request(run, Run.Control.PAUSE, operator)  # paused already
    run = work(runs.resume(run, operator))
    assert run.state == Run.State.WAITING


def test_cancel_stops_at_once_and_cancels_what_is_left(ready_plan, operator, fake_executors):
    _, behaviour = fake_executors
    behaviour["cancel"].add("create_database")
    run = work(runs.start_run(ready_plan, operator))
    assert run.state == Run.State.CANCELLED
    assert {state for _, _, state in states(run)} == {StepState.CANCELLED}
    with pytest.raises(runs.RunRefused):
        runs.resume(run, operator)


def test_only_allowed_transitions_happen():
    step = RunStep(state=StepState.DONE)
    with pytest.raises(steps.IllegalTransition):
        steps.transition(step, StepState.RUNNING)


def test_a_transition_refuses_a_step_someone_else_moved(ready_plan, operator):
    run = runs.start_run(ready_plan, operator)
    step = run.steps.first()
    stale = RunStep.objects.get(pk=step.pk)
    steps.transition(step, StepState.RUNNING)
    with pytest.raises(steps.IllegalTransition, match="someone else"):
        steps.transition(stale, StepState.RUNNING)


def test_a_second_run_of_the_same_plan_is_refused_while_one_is_open(ready_plan, operator):
    runs.start_run(ready_plan, operator)
    with pytest.raises(ValidationError, match="already has a run"):
        runs.start_run(ready_plan, operator)


def test_retain_and_retire_take_no_steps(ready_plan, operator, fake_executors):
    ready_plan.workloads.exclude(name="luna").update(strategy=Strategy.RETAIN)
    run = work(runs.start_run(ready_plan, operator))
    assert {name for name, _, _ in states(run)} == {"luna"}
    assert PlannedWorkload.objects.get(name="batman").status == "planned"


# --- continuous replication ---------------------------------------------------------------------


def replicated_minutes_ago(run, minutes):
    """Pretend the run's replication steps finished `minutes` ago."""
    run.steps.filter(kind__in=runs.REPLICATING_KINDS).update(finished_at=timezone.now() - timedelta(minutes=minutes))


def test_continuous_replication_syncs_the_ec2_disks_of_a_waiting_run_when_due(ready_plan, operator, fake_executors):
    run = work(runs.start_run(ready_plan, operator))
    replicated_minutes_ago(run, 5)
    assert runs.keep_in_sync() == []  # not due: every 15 minutes by default
    assert runs.next_sync_at(run) > timezone.now()

    replicated_minutes_ago(run, 16)
    assert runs.keep_in_sync() == [run.pk]
    run.refresh_from_db()
    assert run.state == Run.State.PENDING and run.job.title.startswith("Continuous replication of run")
    added = [(name, kind, state) for name, kind, state in states(run) if state == StepState.PENDING]
    assert added == [("luna", "sync", "pending")]  # the EC2 disk only: an RDS copy is a whole dump
    assert runs.keep_in_sync() == []  # busy now: nothing queued twice

    run = work(run)
    assert run.state == Run.State.WAITING
    assert runs.keep_in_sync() == []  # just synced


def test_continuous_replication_can_be_off_and_never_overrides_an_operator(ready_plan, operator, fake_executors):
    run = work(runs.start_run(ready_plan, operator))
    replicated_minutes_ago(run, 60)
    ready_plan.sync_every_minutes = 0
    ready_plan.save()
    assert runs.keep_in_sync() == [] and runs.next_sync_at(run) is None

    ready_plan.sync_every_minutes = 15
    ready_plan.save()
    runs.add_action(run, "cutover", operator)  # the operator's action is queued first
    assert runs.keep_in_sync() == []
    with pytest.raises(runs.RunRefused, match="wait for it"):
        runs.add_action(run, "sync", operator)


def test_the_beat_runs_continuous_replication_every_minute(db):
    from core.schedules import DEFAULT_SCHEDULES

    assert ("Keep migration replicas in sync", "migrations_tool.scheduled_sync", 60) in DEFAULT_SCHEDULES
    assert tasks.scheduled_sync() == []  # nothing waiting: nothing to do


def test_starting_and_controlling_a_run_are_operators_acts_in_the_service_itself(ready_plan, viewer, operator,
                                                                                fake_executors):
    with pytest.raises(PermissionDenied):
        runs.start_run(ready_plan, viewer)
    assert not ready_plan.runs.exists()
    run = work(runs.start_run(ready_plan, operator))
    for control in (lambda: runs.add_action(run, "cutover", viewer), lambda: runs.resume(run, viewer),
                    lambda: runs.request(run, Run.Control.CANCEL, viewer)):
        with pytest.raises(PermissionDenied):
            control()
    assert Run.objects.get(pk=run.pk).state == run.state
