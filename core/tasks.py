from celery import shared_task

from . import services
from .jobs import job_task, start


@job_task("core.purge_history")
def purge_history_job(job, recorder):
    return services.purge_history(recorder, job.params.get("changelog_days"), job.params.get("job_days"))


@shared_task(name="core.scheduled_purge_history")
def scheduled_purge_history():
    """Beat entry point: make the Job, then run it on a worker like any other."""
    return start("core.purge_history", "Purge old change log and jobs").pk
