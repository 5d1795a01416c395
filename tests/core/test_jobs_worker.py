from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.utils import timezone

from core.jobs import create_job, enqueue
from core.models import Job
from core.tasks import purge_history_job
from inventory.models import Site
from tests.conftest import wait_for


@pytest.mark.worker
def test_purge_job_runs_on_a_real_worker(celery_worker_process, operator):
    Site.objects.create(name="Old", slug="old")
    Site.objects.create(name="New", slug="new")
    old_entry = LogEntry.objects.get(object_repr="Old")
    LogEntry.objects.filter(pk=old_entry.pk).update(timestamp=timezone.now() - timedelta(days=400))

    job = create_job("core.purge_history", "Purge", user=operator)
    assert job.state == Job.State.PENDING
    enqueue(job, purge_history_job)  # transactional_db: on_commit fires at once

    finished = wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=60)
    job.refresh_from_db()
    assert finished, f"job still {job.state}"
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.progress == 100
    assert job.result["changelog_entries_removed"] == 1
    assert job.celery_task_id
    assert "Removed 1 change-log entries" in job.log
    assert not LogEntry.objects.filter(pk=old_entry.pk).exists()
    assert LogEntry.objects.filter(object_repr="New").exists()
