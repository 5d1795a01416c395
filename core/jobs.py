"""Service functions for Jobs: create, enqueue, record progress, finish, cancel.

Tasks stay thin: `run_job` loads the Job, marks it running, hands a JobRecorder to
the service function and records how it ended. Progress and log lines are written
with single UPDATE statements so the console sees them while the task runs.
"""

import logging
from functools import wraps
from importlib import import_module

from celery import current_app, shared_task
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from .actions import acting_user, action
from .errors import sentence
from .models import Job
from .roles import Role

logger = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside a job when an operator asked to cancel it."""


def create_job(kind, title, user=None, params=None, target=None, parent=None):
    """A Job row only (a step recorded under a parent job, run by it); `start` also sends it."""
    job = Job(kind=kind, title=title, params=params or {}, parent=parent, created_by=acting_user(user))
    if target is not None:
        job.target_type = ContentType.objects.get_for_model(target)
        job.target_id = str(target.pk)
    job.save()
    return job


def enqueue(job, task, **options):
    """Send the job's task once the surrounding transaction commits (so the worker finds the row)."""

    def send():
        result = task.apply_async(args=[job.pk], **options)
        Job.objects.filter(pk=job.pk).update(celery_task_id=result.id or "")

    transaction.on_commit(send)
    return job


@action(Role.OPERATOR, "cancelling a job")
def cancel_job(job, user=None):
    """An operator asks the job to stop (False when it had already finished)."""
    return request_cancel(job)


def request_cancel(job):
    if job.is_finished:
        return False
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    if job.state == Job.State.PENDING:
        _finish(job.pk, Job.State.CANCELLED, message="Cancelled before it started")
    return True


class JobRecorder:
    """What a running job's service code uses to report progress."""

    def __init__(self, job):
        self.job = job

    def progress(self, percent, message=None, check_cancel=True):
        """Record progress; by default also the point where a cancel request takes effect."""
        fields = {"progress": max(0, min(100, int(percent)))}
        if message is not None:
            fields["message"] = message[:300]
        Job.objects.filter(pk=self.job.pk).update(**fields)
        if check_cancel:
            self.check_cancel()

    def log(self, line):
        stamp = timezone.now().strftime("%H:%M:%S")
        Job.objects.filter(pk=self.job.pk).update(log=Concat(F("log"), Value(f"{stamp} {line}\n")))
        logger.info("job %s: %s", self.job.pk, line)

    def check_cancel(self):
        if Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists():
            raise JobCancelled()


def _finish(job_id, state, message="", result=None, error=""):
    fields = {"state": state, "finished_at": timezone.now(), "message": message[:300], "error": error}
    if result is not None:
        fields["result"] = result
    if state == Job.State.SUCCEEDED:
        fields["progress"] = 100
    Job.objects.filter(pk=job_id).update(**fields)


def run_job(job_id, work):
    """Run `work(job, recorder)` for the job, recording state. Idempotent: a job that
    already finished (a redelivered message) is left alone."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        logger.warning("job %s vanished before it ran", job_id)
        return None
    if job.is_finished:
        return job.result
    Job.objects.filter(pk=job.pk).update(state=Job.State.RUNNING, started_at=timezone.now(), message="Started")
    recorder = JobRecorder(job)
    try:
        result = work(job, recorder)
    except JobCancelled:
        recorder.log("Cancelled by an operator")
        _finish(job.pk, Job.State.CANCELLED, message="Cancelled")
        return None
    except Exception as exc:  # any failure must land on the Job, not vanish in the worker log
        # People read a sentence (message, error, log); the traceback is for the server log only.
        logger.exception("job %s (%s) failed", job.pk, job.kind)
        said = sentence(exc)
        recorder.log(f"Failed: {said}")
        _finish(job.pk, Job.State.FAILED, message=said[:300], error=said)
        return None
    _finish(job.pk, Job.State.SUCCEEDED, message="Done", result=result or {})
    return result


# job kind -> the Celery task that runs jobs of that kind (filled by @job_task)
_TASKS = {}


def job_task(kind, **task_options):
    """Declare `work(job, recorder)` the body of the jobs of `kind`: a Celery task named
    after the kind, registered so `start(kind, ...)` finds it without importing it."""

    def decorate(work):
        @wraps(work)
        def body(job_id):
            return run_job(job_id, work)

        task = shared_task(name=kind, **task_options)(body)
        _TASKS[kind] = task
        return task

    return decorate


def _load_task_modules():
    """Import every installed app's tasks module once, which fills the registry."""
    for config in apps.get_app_configs():
        name = f"{config.name}.tasks"
        try:
            import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def task_for(kind):
    if kind not in _TASKS:
        _load_task_modules()
    try:
        return _TASKS[kind]
    except KeyError:
        raise LookupError(f"No task runs jobs of kind {kind!r}") from None


def celery_task(name):
    """The plain Celery task named `name` (one that is not a job's, e.g. an alert delivery),
    found the same way: the service sending it never imports the tasks module."""
    if name not in current_app.tasks:
        _load_task_modules()
    return current_app.tasks[name]


def start(kind, title, *, user=None, params=None, target=None, parent=None, **send_options):
    """Create the Job of `kind` (who asked, what, about which object) and send its task once
    the surrounding transaction commits. The one way any code starts a job."""
    task = task_for(kind)
    job = create_job(kind, title, user=acting_user(user), params=params, target=target, parent=parent)
    return enqueue(job, task, **send_options)
