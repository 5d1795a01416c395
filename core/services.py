"""Housekeeping operations of the core app."""

from datetime import timedelta

from auditlog.models import LogEntry
from django.conf import settings
from django.utils import timezone

from .models import Job


def purge_history(recorder=None, changelog_days=None, job_days=None):
    """Delete change-log entries and finished jobs older than the retention settings."""
    changelog_days = changelog_days or settings.CHANGELOG_RETENTION_DAYS
    job_days = job_days or settings.JOB_RETENTION_DAYS
    now = timezone.now()
    changes, _ = LogEntry.objects.filter(timestamp__lt=now - timedelta(days=changelog_days)).delete()
    if recorder:
        recorder.progress(50, f"Removed {changes} change-log entries older than {changelog_days} days")
    jobs, _ = Job.objects.filter(
        state__in=Job.FINISHED_STATES, finished_at__lt=now - timedelta(days=job_days)
    ).delete()
    if recorder:
        recorder.log(f"Removed {changes} change-log entries and {jobs} finished jobs")
    return {"changelog_entries_removed": changes, "jobs_removed": jobs}
