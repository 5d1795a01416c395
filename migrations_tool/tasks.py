"""Thin Celery wrappers: load the run from the Job, execute its steps."""

from celery import shared_task

from core.jobs import job_task

from .models import Run
from .services import runs


@job_task(runs.RUN_JOB)
def run_job(job, recorder):
    run = Run.objects.select_related("plan").get(pk=job.params["run_id"])
    return runs.execute(run, job, recorder)


@shared_task(name="migrations_tool.scheduled_sync")
def scheduled_sync():
    """Beat entry point of continuous replication (runs.keep_in_sync)."""
    return runs.keep_in_sync()
