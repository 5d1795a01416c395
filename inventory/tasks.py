"""Celery tasks of the inventory: thin wrappers that run a service inside a Job."""

from core.jobs import job_task, start

from . import csv_import
from .services import recovery

IMPORT_JOB_KIND = "inventory.import_hosts"


@job_task(IMPORT_JOB_KIND)
def import_hosts_job(job, recorder):
    text = csv_import.unseal_csv(job.params["csv_sealed"])
    return csv_import.run_import(text, job.created_by, recorder)


def start_host_import(text, user, filename=""):
    """Create the import Job (the file travels in its params, encrypted) and send it to a
    worker once the current transaction commits. The worker checks every row again
    before writing: the inventory may have changed since the preview."""
    filename = filename or "pasted CSV"
    params = {"filename": filename, "bytes": len(text.encode()), "csv_sealed": csv_import.seal_csv(text)}
    return start(IMPORT_JOB_KIND, f"Import hosts from {filename}"[:200], user=user, params=params)


@job_task(recovery.JOB_KIND)
def replacement_step_job(job, recorder):
    return recovery.run_step(job.params["replacement_id"], job.params["step"], recorder)
