"""Which checks are due: defaults, role and host schedules, the suspect re-check, the beat tick."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from access.models import SSHCredential
from core.models import Job
from health import tasks
from health.models import CheckSchedule, CheckStatus, HostHealth
from health.services import schedules, sweep
from inventory.models import Host


@pytest.fixture
def reachable(host, app_role, site):
    """luna and titan with addresses and a default credential: the SSH checks apply."""
    Host.objects.filter(pk=host.pk).update(mgmt_address="127.0.0.1")
    titan = Host.objects.create(hostname="titan", site=site, role=app_role, status="active", mgmt_address="127.0.0.1")
    SSHCredential.objects.create(name="default", private_key="not parsed to decide what is due", is_default=True)
    return Host.objects.get(pk=host.pk), titan


def ran(host, check, seconds_ago):
    now = timezone.now() - timedelta(seconds=seconds_ago)
    CheckStatus.objects.update_or_create(host=host, check_type=check,
                                         defaults={"ok": True, "checked_at": now, "since": now})


def due(now=None):
    work = sweep.select_work(due_only=True, now=now, parse_keys=False)[2]
    return {Host.objects.get(pk=pk).hostname: checks for pk, checks in work.items()}


def test_defaults_exist_after_migrate(db):
    defaults = dict(CheckSchedule.objects.filter(role=None, host=None).values_list("check_type", "interval_seconds"))
    assert defaults == {str(check): seconds for check, seconds in schedules.DEFAULT_INTERVALS.items()}


def test_never_run_checks_are_due_and_recent_ones_not(reachable):
    luna, titan = reachable
    assert due() == {"luna": {"ssh", "metrics"}, "titan": {"ssh", "metrics"}}
    ran(luna, "ssh", 5)
    ran(luna, "metrics", 59)  # within the slack of its 60 s interval: due at this tick
    assert due()["luna"] == {"metrics"}


@pytest.mark.parametrize("status", ["migrated", "planned", "decommissioned"])
def test_hosts_without_a_workload_here_are_not_checked(reachable, status):
    """A migrated host's workload runs in the cloud; its shut-off source must not raise alerts."""
    luna, titan = reachable
    Host.objects.filter(pk=titan.pk).update(status=status)
    assert set(due()) == {"luna"}


def test_the_most_specific_schedule_wins(reachable, app_role):
    luna, titan = reachable
    for host in (luna, titan):
        ran(host, "ssh", 15)
        ran(host, "metrics", 15)
    CheckSchedule.objects.create(check_type="ssh", role=app_role, interval_seconds=10)
    CheckSchedule.objects.create(check_type="ssh", host=titan, interval_seconds=600)
    CheckSchedule.objects.create(check_type="metrics", host=luna, interval_seconds=60, enabled=False)
    assert due() == {"luna": {"ssh"}}


def test_a_disabled_check_forgets_its_status(reachable):
    luna, _ = reachable
    ran(luna, "metrics", 5)
    CheckSchedule.objects.filter(check_type="metrics", role=None, host=None).update(enabled=False)
    sweep.forget_statuses(sweep.select_work(parse_keys=False)[4])
    assert not CheckStatus.objects.filter(check_type="metrics").exists()


def test_suspect_hosts_are_rechecked_sooner(reachable, settings):
    luna, titan = reachable
    settings.HEALTH_SUSPECT_INTERVAL_SECONDS = 10
    for host in (luna, titan):
        ran(host, "ssh", 12)
        ran(host, "metrics", 12)
    HostHealth.objects.create(host=luna, state="suspect", since=timezone.now())
    assert due() == {"luna": {"ssh"}}  # liveness only; metrics keep their pace


def test_the_beat_tick_makes_a_job_only_when_due_and_not_busy(reachable, django_capture_on_commit_callbacks):
    luna, titan = reachable
    with django_capture_on_commit_callbacks(execute=False) as sent:
        job_id = tasks.scheduled_sweep()
    assert Job.objects.get(pk=job_id).params == {"due_only": True} and len(sent) == 1
    assert tasks.scheduled_sweep() is None  # the first one has not run yet
    Job.objects.filter(pk=job_id).update(state=Job.State.SUCCEEDED)
    for host in (luna, titan):
        ran(host, "ssh", 1)
        ran(host, "metrics", 1)
    assert tasks.scheduled_sweep() is None  # nothing due
    assert Job.objects.count() == 1


def test_the_tick_is_a_beat_schedule(db):
    tick = PeriodicTask.objects.get(task="health.scheduled_sweep")
    assert tick.enabled and tick.interval.every == 5
