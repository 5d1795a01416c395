"""Runs: start one, execute its steps on a worker, and the operator's controls (pause,
resume, cancel, sync, test cutover, cutover, rollback).

Each control that executes steps appends them to the run and queues one Job
(kind "migrations_tool.run") that executes every pending step in order. A run has at most
one such job at a time. A worker that dies mid-step leaves the step "running": the
redelivered task (acks late) or a resume puts it back to pending and executes it again
from its checkpoint.

    run = start_run(plan, user)                 # the job is queued on commit
    execute(run, job, recorder)                 # the task body
    request(run, "pause" | "cancel", user); resume(run, user); add_action(run, "cutover", user)

Starting a run and every control are operators' actions (core.actions); the beat's
continuous replication acts as SYSTEM.
"""

import logging
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from cloud.models import ReplicationPass
from core import jobs
from core.actions import SYSTEM, acting_user, action
from core.errors import sentence
from core.jobs import JobCancelled
from core.models import Job
from core.roles import Role

from ..models import MigrationPlan, PlannedWorkload, Run, RunStep, StepState, Strategy
from . import executors, steps
from .plans import problems_of
from .waves import ordered_workloads

logger = logging.getLogger(__name__)

RUN_JOB = "migrations_tool.run"
ACTIONS = tuple(executors.ACTION_STEPS)
# Which workloads an action applies to, by status.
ACTION_NEEDS = {
    "sync": {PlannedWorkload.Status.READY_FOR_CUTOVER},
    "test_cutover": {PlannedWorkload.Status.READY_FOR_CUTOVER},
    "cutover": {PlannedWorkload.Status.READY_FOR_CUTOVER},
    "rollback": {PlannedWorkload.Status.MIGRATED, PlannedWorkload.Status.READY_FOR_CUTOVER,
                 PlannedWorkload.Status.MIGRATING, PlannedWorkload.Status.FAILED},
    "finalize": {PlannedWorkload.Status.MIGRATED},
}


class RunRefused(Exception):
    """The control does not apply to the run as it is; nothing changed."""


# --- starting -------------------------------------------------------------------------------------


@action(Role.OPERATOR, "starting a migration run")
def start_run(plan, user=None, wave=None):
    """A Run of the plan (or one wave) with the first steps of every moving workload, and
    its job queued. Raises ValidationError (non_field_errors) when the plan is not ready,
    or its run would not find its targets or sources (the review's problems, asked again)."""
    if wave is not None and wave.plan_id != plan.pk:
        raise ValidationError({"wave": "That wave belongs to another plan."})
    problems = problems_of(plan)
    if problems:
        raise ValidationError({"non_field_errors": problems})
    if plan.runs.filter(state__in=Run.OPEN_STATES).exists():
        raise ValidationError({"non_field_errors": ["The plan already has a run in progress: finish it first."]})
    with transaction.atomic():
        run = Run.objects.create(plan=plan, wave=wave, created_by=acting_user(user))
        workloads = [w for w in ordered_workloads(plan, wave) if w.strategy in executors.STEPS]
        _append(run, [(w, kind) for w in workloads for kind in executors.STEPS[w.strategy]])
        MigrationPlan.objects.filter(pk=plan.pk).update(status=MigrationPlan.Status.RUNNING)
        _queue(run, user, f"Migration run #{run.pk} of {plan.name}")
    return run


def _append(run, pairs):
    start = (run.steps.aggregate(top=Max("position"))["top"] or 0) + 1
    RunStep.objects.bulk_create([RunStep(run=run, workload=w, kind=kind, position=start + i,
                                         message=executors.TITLES[kind]) for i, (w, kind) in enumerate(pairs)])


def _queue(run, user, title):
    job = jobs.start(RUN_JOB, title, user=user, params={"run_id": run.pk}, target=run.plan)
    Run.objects.filter(pk=run.pk).update(job=job, state=Run.State.PENDING, control=Run.Control.NONE, message="")
    run.refresh_from_db()
    return job


# --- executing (the task body) ------------------------------------------------------------------


def execute(run, job, recorder):
    """Execute the run's pending steps in order. A step left running by a dead worker
    runs again from its checkpoint."""
    if run.job_id != job.pk:
        recorder.log(f"Run #{run.pk} is now driven by job #{run.job_id}; this one stops")
        return {"superseded_by": run.job_id}
    Run.objects.filter(pk=run.pk).update(state=Run.State.RUNNING)
    for stale in run.steps.filter(state=StepState.RUNNING):
        recorder.log(f"{stale.workload.name} · {stale.kind}: resumed from its checkpoint {stale.checkpoint or '{}'}")
        steps.transition(stale, StepState.PENDING)
    todo = list(run.steps.filter(state=StepState.PENDING).select_related("workload__plan__account", "run"))
    for index, step in enumerate(todo):
        control = Run.objects.filter(pk=run.pk).values_list("control", flat=True).get()
        if control:
            return _stop(run, control, todo[index:], recorder)
        recorder.log(f"{step.workload.name}: {executors.TITLES[step.kind]}")
        steps.transition(step, StepState.RUNNING, error="")
        overall = (100 * index // len(todo), 100 * (index + 1) // len(todo))
        step_recorder = steps.StepRecorder(step, recorder, overall)
        try:
            outcome = executors.EXECUTORS[step.kind](step, step_recorder) or {}
        except steps.Superseded:
            recorder.log(f"{step.workload.name} · {step.kind}: taken over by another job; this one stops")
            raise
        except Exception as exc:  # noqa: BLE001 - every failure lands on the step and the run
            control = Run.objects.filter(pk=run.pk).values_list("control", flat=True).get()
            if control or isinstance(exc, JobCancelled):
                return _stop(run, control or Run.Control.CANCEL, todo[index:], recorder, interrupted=step)
            return _fail(run, step, exc, recorder)
        steps.transition(step, StepState.DONE, progress=100, checkpoint={**step.checkpoint, "outcome": outcome})
        status = executors.STATUS_AFTER.get(step.kind)
        if status:
            PlannedWorkload.objects.filter(pk=step.workload_id).update(status=status)
    return _settle(run, recorder)


def _stop(run, control, left, recorder, interrupted=None):
    """Pause (steps back to pending, checkpoints kept) or cancel (steps cancelled)."""
    if interrupted is not None:
        interrupted.refresh_from_db()
        steps.transition(interrupted, StepState.PENDING if control == Run.Control.PAUSE else StepState.CANCELLED)
    if control == Run.Control.PAUSE:
        Run.objects.filter(pk=run.pk).update(state=Run.State.PAUSED, control="", message="Paused by an operator")
        recorder.log("Paused: resume to go on from here")
        return {"paused": True}
    for step in left:
        step.refresh_from_db()
        if step.state == StepState.PENDING:
            steps.transition(step, StepState.CANCELLED)
    Run.objects.filter(pk=run.pk).update(state=Run.State.CANCELLED, control="", finished_at=timezone.now(),
                                         message="Cancelled by an operator: sources not cut over keep running")
    recorder.log("Cancelled: no further steps; the sources not yet cut over keep running")
    return {"cancelled": True}


def _fail(run, step, exc, recorder):
    # The step, the run and the job say what went wrong in a sentence; the trace goes to the server log.
    logger.exception("run %s: step %s (%s of %s) failed", run.pk, step.pk, step.kind, step.workload.name)
    said = sentence(exc)
    left = executors.left_in_cloud(step)
    if left:
        said += f" Left in the cloud by this run: {', '.join(left)}; resume once fixed, or roll back to delete it."
    steps.transition(step, StepState.FAILED, error=said, message=said[:300])
    PlannedWorkload.objects.filter(pk=step.workload_id).exclude(status=PlannedWorkload.Status.MIGRATED).update(
        status=PlannedWorkload.Status.FAILED)
    Run.objects.filter(pk=run.pk).update(state=Run.State.FAILED, message=f"{step.workload.name}: {said}"[:300])
    recorder.log(f"{step.workload.name} · {step.kind} failed: {said} Fix the cause and resume (the step starts "
                 f"again from its checkpoint), or roll back.")
    raise steps.StepFailed(f"{step.workload.name}: {executors.TITLES[step.kind]} failed: {said}") from exc


def _settle(run, recorder):
    """After the last step: waiting for a cutover, rolled back, or done."""
    workloads = PlannedWorkload.objects.filter(steps__run=run).distinct()
    statuses = set(workloads.values_list("status", flat=True))
    if PlannedWorkload.Status.READY_FOR_CUTOVER in statuses:
        state, message = Run.State.WAITING, "Replicated: test, then cut over (or roll back)"
    elif statuses and statuses <= {PlannedWorkload.Status.ROLLED_BACK}:
        state, message = Run.State.ROLLED_BACK, "Rolled back: every source runs again"
    else:
        state, message = Run.State.DONE, "Every workload moved"
    Run.objects.filter(pk=run.pk).update(state=state, message=message,
                                         finished_at=None if state == Run.State.WAITING else timezone.now())
    if state == Run.State.DONE:
        MigrationPlan.objects.filter(pk=run.plan_id).update(status=MigrationPlan.Status.DONE)
    recorder.log(message)
    return {"state": state}


# --- the operator's controls ---------------------------------------------------------------------


@action(Role.OPERATOR, "pausing or cancelling a migration run")
def request(run, control, user=None):
    """Ask a running run to pause or cancel (it stops at the next step or progress report).
    A run that is not running is cancelled at once."""
    if control not in (Run.Control.PAUSE, Run.Control.CANCEL):
        raise RunRefused(f"Unknown control {control!r}.")
    if run.state in Run.ACTIVE_STATES:
        Run.objects.filter(pk=run.pk).update(control=control)
        if run.job_id and run.job.state == run.job.State.PENDING:  # not started: stop it now
            jobs.request_cancel(run.job)
            return _stop_idle(run, control)
        run.refresh_from_db()
        return run
    if control == Run.Control.CANCEL and run.state in (Run.State.PAUSED, Run.State.WAITING, Run.State.FAILED):
        return _stop_idle(run, control)
    raise RunRefused(f"Run #{run.pk} is {run.get_state_display().lower()}: there is nothing to "
                     f"{'pause' if control == Run.Control.PAUSE else 'cancel'}.")


def _stop_idle(run, control):
    left = list(run.steps.filter(state=StepState.PENDING))
    _stop(run, control, left, _NullRecorder(run))
    run.refresh_from_db()
    return run


class _NullRecorder:
    def __init__(self, run):
        self.run = run

    def log(self, line):
        if self.run.job_id:
            jobs.JobRecorder(self.run.job).log(line)


@action(Role.OPERATOR, "resuming a migration run")
def resume(run, user=None, take_over=False):
    """Go on after a pause or a failure (failed and interrupted steps start again from their
    checkpoints), or after a worker died: its job ended, or (take_over) it stopped
    reporting and an operator takes the run over; the old job, should its worker still
    live, stops at its next report (steps.Superseded)."""
    dead = run.state in Run.ACTIVE_STATES and (run.job is None or run.job.is_finished or take_over)
    if run.state not in (Run.State.PAUSED, Run.State.FAILED) and not dead:
        hint = " (take it over if its worker died)" if run.state in Run.ACTIVE_STATES else ""
        raise RunRefused(f"Run #{run.pk} is {run.get_state_display().lower()}; only a paused or failed run "
                         f"resumes{hint}.")
    with transaction.atomic():
        if run.job is not None and not run.job.is_finished:
            Job.objects.filter(pk=run.job_id).update(state=Job.State.FAILED, finished_at=timezone.now(),
                                                     message="Taken over by a new job: its worker stopped reporting")
        again = list(run.steps.filter(state__in=[StepState.FAILED, StepState.RUNNING]).select_related("workload"))
        for step in again:
            steps.transition(step, StepState.PENDING)
        PlannedWorkload.objects.filter(steps__run=run, status=PlannedWorkload.Status.FAILED).update(
            status=PlannedWorkload.Status.MIGRATING)
        job = _queue(run, user, f"Migration run #{run.pk} of {run.plan.name} (resumed)")
        for step in again:
            jobs.JobRecorder(job).log(f"{step.workload.name} · {step.kind}: resumed from its checkpoint "
                                      f"{step.checkpoint or '{}'}")
    return run


@action(Role.OPERATOR, "acting on a migration run")
def add_action(run, action, user=None, workload_ids=None, title=None):
    """Sync, test cutover, cutover or rollback: append the action's steps for every
    workload it applies to (or those given) and queue the run's job. The run's row is
    locked meanwhile: of two actions at once (two operators, or one and the continuous
    replication), the second sees the run busy and is refused."""
    if action not in ACTIONS:
        raise RunRefused(f"Unknown action {action!r}; one of {', '.join(ACTIONS)}.")
    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("plan").get(pk=run.pk)
        _check_action(run, action)
        chosen = _workloads_for(run, action, workload_ids)
        if not chosen:
            raise RunRefused(f"No workload of run #{run.pk} can take a {action.replace('_', ' ')} now.")
        _append(run, [(w, kind) for w in chosen for kind in executors.ACTION_STEPS[action][w.strategy]])
        if action == "rollback":  # what was still to do is not done any more
            undo = {kind for kinds in executors.ACTION_STEPS["rollback"].values() for kind in kinds}
            run.steps.filter(state=StepState.PENDING).exclude(kind__in=undo).update(
                state=StepState.CANCELLED, finished_at=timezone.now())
        Run.objects.filter(pk=run.pk).update(finished_at=None)
        _queue(run, user, title or f"{action.replace('_', ' ').capitalize()} of run #{run.pk} ({run.plan.name})")
    return run


def _check_action(run, action):
    if run.state in (*Run.ACTIVE_STATES, Run.State.PAUSED):
        raise RunRefused(f"Run #{run.pk} is {run.get_state_display().lower()}: wait for it, or cancel it first.")
    if action == "finalize" and run.state != Run.State.DONE:
        raise RunRefused(f"Run #{run.pk} is {run.get_state_display().lower()}: finalize a run once it is done.")
    if action not in ("rollback", "finalize") and run.state != Run.State.WAITING:
        raise RunRefused(f"Run #{run.pk} is {run.get_state_display().lower()}: {action.replace('_', ' ')} needs "
                         f"replicated workloads waiting for cutover.")


# --- continuous replication ------------------------------------------------------------------------

REPLICATING_KINDS = ("replicate", "sync")


def next_sync_at(run):
    """When continuous replication sends the run's EC2 disks' next delta; None when the
    plan does not ask for it or the run is not waiting for cutover."""
    minutes = run.plan.sync_every_minutes
    if not minutes or run.state != Run.State.WAITING:
        return None
    last = run.steps.filter(kind__in=REPLICATING_KINDS, state=StepState.DONE).aggregate(last=Max("finished_at"))["last"]
    return last + timedelta(minutes=minutes) if last else None


def keep_in_sync(now=None):
    """The beat's side of continuous replication: a sync of the EC2 workloads of every
    run waiting for cutover whose last delta is older than its plan's interval (an RDS
    copy is a whole dump: only when asked). Returns the ids of the runs it synced."""
    now = now or timezone.now()
    synced = []
    for run in Run.objects.filter(state=Run.State.WAITING, plan__sync_every_minutes__gt=0).select_related("plan"):
        due = next_sync_at(run)
        if due is None or due > now:
            continue
        ec2 = [w.pk for w in _workloads_for(run, "sync", None) if w.strategy == Strategy.REHOST_EC2]
        if not ec2:
            continue
        try:
            add_action(run, "sync", user=SYSTEM, workload_ids=ec2,
                       title=f"Continuous replication of run #{run.pk} ({run.plan.name})")
        except RunRefused:
            continue  # an operator acted meanwhile: their action goes first
        synced.append(run.pk)
    return synced


def _workloads_for(run, action, workload_ids):
    workloads = PlannedWorkload.objects.filter(steps__run=run).distinct().select_related("plan")
    if workload_ids:
        workloads = workloads.filter(pk__in=workload_ids)
    return [w for w in workloads.order_by("wave__number", "name")
            if w.strategy in executors.ACTION_STEPS[action] and w.status in ACTION_NEEDS[action]]


SILENT_AFTER = timedelta(minutes=2)


def is_silent(run, now=None):
    """Whether a running run has reported nothing for a while (its worker may have died)."""
    if run.state not in Run.ACTIVE_STATES or run.job is None or run.job.state != Job.State.RUNNING:
        return False
    last = run.steps.aggregate(last=Max("updated_at"))["last"] or run.job.started_at or run.created_at
    return (now or timezone.now()) - last > SILENT_AFTER


OPEN_STATES = (*Run.ACTIVE_STATES, Run.State.PAUSED, Run.State.WAITING, Run.State.FAILED)


def open_runs(limit=10):
    """Runs that still need someone or something: going, paused, waiting for cutover, or
    failed (resume or roll back); newest first, with their plan and job (one query)."""
    return list(Run.objects.filter(state__in=OPEN_STATES).select_related("plan", "job")[:limit])


def run_jobs(run):
    """Every job that executed the run (start, resumes, actions), oldest first."""
    return Job.objects.filter(kind=RUN_JOB, params__run_id=run.pk).order_by("created_at", "id")


def run_log(run):
    """The log of the whole run: each of its jobs' logs, under the job's title."""
    return "\n".join(f"— {job.title} (job #{job.pk}, {job.state})\n{job.log}" for job in run_jobs(run))


def replication_passes(run):
    """Per workload the run replicates: its replication passes, oldest first — how each
    found the changes, bytes read at the source, received, sent, blocks unchanged."""
    by_replication = {}
    for step in run.steps.select_related("workload"):
        replication_id = step.checkpoint.get("replication_id") if isinstance(step.checkpoint, dict) else None
        if isinstance(replication_id, int):
            by_replication.setdefault(replication_id, step.workload)
    passes = ReplicationPass.objects.filter(replication_id__in=by_replication).select_related("snapshot")
    rows = {}
    for found in passes.order_by("replication_id", "started_at", "pk"):
        workload = by_replication[found.replication_id]
        rows.setdefault(found.replication_id, {"workload": workload, "replication_id": found.replication_id,
                                               "passes": []})["passes"].append(found)
    return list(rows.values())


def progress_of(run):
    """Per workload: its steps and the share of them done (for the run page and the API)."""
    rows = {}
    for step in run.steps.select_related("workload").order_by("position"):
        row = rows.setdefault(step.workload_id, {"workload": step.workload, "steps": [], "done": 0})
        row["steps"].append(step)
        row["done"] += step.progress if step.state != StepState.CANCELLED else 100
    for row in rows.values():
        row["percent"] = row["done"] // max(1, len(row["steps"]))
    return list(rows.values())
