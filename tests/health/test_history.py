"""Bounded history: raw results aggregated per hour after a day, aggregates dropped after 30 days."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.jobs import create_job
from core.models import Job
from health.models import CheckAggregate, CheckResult, HealthEvent
from health.services import history

NOW = timezone.now().replace(minute=30, second=0, microsecond=0)


def result(host, hours_ago, minutes=0, ok=True, load=1.0, disk=50, duration=100):
    return CheckResult.objects.create(
        host=host, check_type="metrics", ok=ok, duration_ms=duration,
        value={"load1": load, "mem_used_pct": 40, "disks": {"/": disk}, "failed_units": None},
        checked_at=NOW - timedelta(hours=hours_ago) + timedelta(minutes=minutes),
    )


def test_old_raw_results_become_hourly_aggregates(host):
    result(host, 30, 0, load=1.0, disk=50, duration=100)
    result(host, 30, 10, ok=False, load=3.0, disk=60, duration=300)
    result(host, 29, 0, load=5.0)
    recent = result(host, 2)
    summary = history.compact(now=NOW)

    assert summary["hours_aggregated"] == 2
    assert list(CheckResult.objects.all()) == [recent]
    first = CheckAggregate.objects.get(hour=history.hour_of(NOW - timedelta(hours=30)))
    assert (first.runs, first.failures, first.duration_ms_avg) == (2, 1, 200)
    assert first.value == {"load1": 2.0, "mem_used_pct": 40.0, "disks": {"/": 55.0}}
    assert CheckAggregate.objects.count() == 2


def test_compacting_twice_counts_nothing_twice(host):
    result(host, 30, 0, load=1.0)
    history.compact(now=NOW)
    result(host, 30, 5, load=3.0)  # a late result of the same hour
    history.compact(now=NOW)
    aggregate = CheckAggregate.objects.get()
    assert aggregate.runs == 2 and aggregate.value["load1"] == 2.0
    assert not CheckResult.objects.exists()


def test_retention_drops_old_aggregates_events_and_scheduled_sweep_jobs(host, operator):
    CheckAggregate.objects.create(host=host, check_type="ssh", hour=NOW - timedelta(days=31), runs=1)
    kept = CheckAggregate.objects.create(host=host, check_type="ssh", hour=NOW - timedelta(days=29), runs=1)
    HealthEvent.objects.create(host=host, from_state="healthy", to_state="suspect", at=NOW - timedelta(days=400))
    old_sweep = create_job("health.sweep", "Scheduled health checks")
    asked_for = create_job("health.sweep", "Health checks of luna", user=operator)
    Job.objects.filter(pk__in=[old_sweep.pk, asked_for.pk]).update(state="succeeded",
                                                                  finished_at=NOW - timedelta(days=1))
    summary = history.compact(now=NOW)
    assert list(CheckAggregate.objects.all()) == [kept]
    assert summary["events_removed"] == 1 and not HealthEvent.objects.exists()
    assert list(Job.objects.values_list("pk", flat=True)) == [asked_for.pk]  # one an operator asked for is kept


def test_chart_series_join_aggregates_and_raw_results(host):
    result(host, 30, 0, load=1.0)
    result(host, 30, 10, load=3.0)
    history.compact(now=NOW)
    result(host, 1, load=7.0, disk=80)
    series = history.metric_series(host, timedelta(days=7), now=NOW)
    assert [value for _, value in series["load1"]] == [2.0, 7.0]
    assert [value for _, value in series["disks"]["/"]] == [50.0, 80]


@pytest.mark.parametrize("value, numbers", [
    ({"load1": 1, "ok": True, "disks": {"/": 5, "x": "y"}, "units": ["a"]}, {"load1": 1, "disks./": 5}),
    ({}, {}),
    (None, {}),
])
def test_numeric_values(value, numbers):
    assert history.numeric_values(value) == numbers
