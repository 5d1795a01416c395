"""The beat tick and a sweep Job through a real Celery worker, against the lab."""

import pytest

from core.models import Job
from health import tasks
from health.models import CheckResult, CheckSchedule, HostHealth
from inventory.models import Host
from tests.conftest import wait_for

pytestmark = [pytest.mark.lab, pytest.mark.worker]


def test_the_beat_tick_sweeps_what_is_due_on_a_worker(lab, trusted_estate, celery_worker_process):
    CheckSchedule.objects.exclude(check_type__in=["ssh", "libvirt"]).update(enabled=False)
    job_id = tasks.scheduled_sweep()  # what beat calls every few seconds
    assert job_id is not None
    job = wait_for(lambda: Job.objects.filter(pk=job_id, state__in=Job.FINISHED_STATES).first(), timeout=60)
    assert job and job.state == Job.State.SUCCEEDED, job and (job.message, job.log)
    assert job.result["hosts"] == len(trusted_estate) and job.result["failed_checks"] == 0
    assert set(CheckResult.objects.values_list("check_type", flat=True)) == {"ssh", "libvirt"}
    assert CheckResult.objects.count() == 2 * len(trusted_estate)
    assert set(HostHealth.objects.values_list("state", flat=True)) == {"healthy"}
    assert tasks.scheduled_sweep() is None  # all checked just now: nothing due
    assert Host.objects.filter(status="failed").count() == 0
