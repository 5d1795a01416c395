"""The state machine of a run step, its checkpoint and its progress.

Every change of state is a compare-and-set UPDATE (state must still be what the caller
saw), so two workers can never both run a step, and an illegal move raises instead of
silently happening. A step's checkpoint is saved after each thing it did (a replication
id, a snapshot, an instance id): a step that runs again after a worker died reads it and
skips what is already done.
"""

from django.db.models import F
from django.utils import timezone

from core.jobs import JobCancelled

from ..models import STEP_TRANSITIONS, Run, RunStep, StepState


class IllegalTransition(Exception):
    pass


class RunPaused(JobCancelled):
    """Raised inside a step when an operator asked the run to pause. A JobCancelled, so that
    services of other apps that stop cleanly on a cancel (a live migration aborts, the VM
    stays on its source) stop the same way on a pause."""


def transition(step, new, **fields):
    """Move `step` to state `new` (from the state it has in memory), saving `fields` too."""
    old = step.state
    if new not in STEP_TRANSITIONS.get(old, set()):
        raise IllegalTransition(f"A step cannot go from {old} to {new}.")
    now = timezone.now()
    changes = {"state": new, "updated_at": now, **fields}
    if new == StepState.RUNNING:
        changes.setdefault("started_at", now)
        changes["attempts"] = F("attempts") + 1
    if new in (StepState.DONE, StepState.FAILED, StepState.CANCELLED, StepState.ROLLED_BACK):
        changes.setdefault("finished_at", now)
    if not RunStep.objects.filter(pk=step.pk, state=old).update(**changes):
        current = RunStep.objects.filter(pk=step.pk).values_list("state", flat=True).first()
        raise IllegalTransition(f"Step #{step.pk} is {current} now, not {old}: someone else moved it.")
    step.refresh_from_db()
    return step


def save_checkpoint(step, **values):
    """Remember what the step did (merged into its checkpoint), at once."""
    step.checkpoint = {**(step.checkpoint or {}), **values}
    RunStep.objects.filter(pk=step.pk).update(checkpoint=step.checkpoint, updated_at=timezone.now())


class StepRecorder:
    """What an executor reports progress through: the step's own bar (and bytes) and the
    run's Job (overall bar and the log). The same interface as core.jobs.JobRecorder, so
    the services of other apps (hypervisor migration, replication) take it as is.
    Each progress report is where a pause or cancel request takes effect."""

    def __init__(self, step, job_recorder, overall=(0, 100)):
        self.step = step
        self.job_recorder = job_recorder
        self.job = job_recorder.job
        self.overall = overall  # the slice of the job's bar this step fills
        self.watch = None  # optional callable -> (bytes done, bytes total, bytes/s), read at each report

    def progress(self, percent, message=None, check_cancel=True):
        percent = max(0, min(100, int(percent)))
        fields = {"progress": percent, "updated_at": timezone.now()}
        if message is not None:
            fields["message"] = message[:300]
        if self.watch is not None:
            done, total, rate = self.watch()
            fields.update(bytes_done=done, bytes_total=total, throughput_bps=rate)
        RunStep.objects.filter(pk=self.step.pk).update(**fields)
        low, high = self.overall
        self.job_recorder.progress(low + (high - low) * percent / 100, f"{self.step.workload.name}: {message or ''}",
                                   check_cancel=False)
        if check_cancel:
            self.check_cancel()

    def log(self, line):
        self.job_recorder.log(f"{self.step.workload.name} · {self.step.kind}: {line}")

    def check_cancel(self):
        control, job_id = Run.objects.filter(pk=self.step.run_id).values_list("control", "job_id").get()
        if job_id != self.job.pk:
            raise Superseded(f"Run #{self.step.run_id} was taken over by job #{job_id}")
        if control == Run.Control.CANCEL:
            raise JobCancelled()
        if control == Run.Control.PAUSE:
            raise RunPaused()
        self.job_recorder.check_cancel()  # a cancel asked on the Job itself


class Superseded(JobCancelled):
    """This job no longer drives the run (an operator took it over): stop, change nothing."""


class StepFailed(Exception):
    """A step failed: the run's job fails with this sentence (the trace is in the server log)."""
