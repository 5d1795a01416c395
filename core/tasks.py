from celery import shared_task

from . import services
from .jobs import create_job, job_task, enqueue


@shared_task(name="core.purge_history")
@job_task
def purge_history_job(job, recorder):
    return services.purge_history(recorder, job.params.get("changelog_days"), job.params.get("job_days"))


@shared_task(name="core.scheduled_purge_history")
def scheduled_purge_history():
    """Beat entry point: make the Job, then run it on a worker like any other."""
    job = create_job("core.purge_history", "Purge old change log and jobs")
    enqueue(job, purge_history_job)
    return job.pk
