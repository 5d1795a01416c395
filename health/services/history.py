"""Bounded history: raw results for HEALTH_RAW_RETENTION_HOURS, then one row per host,
check and hour (runs, failures, averages of the numbers) for HEALTH_AGGREGATE_RETENTION_DAYS.

Each hour is aggregated and its raw rows deleted in one transaction, so a compaction
killed halfway never counts an hour twice. Also the series the console charts."""

from collections import defaultdict
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.models import Job

from .. import conf
from ..models import Alert, CheckAggregate, CheckResult, HealthEvent

SWEEP_JOB_KIND = "health.sweep"


def numeric_values(value):
    """The numbers of a result value worth averaging: flat numbers and {name: number} maps
    (disk use per mount), as {"load1": 0.4, "disks./": 61}."""
    numbers = {}
    for name, item in (value or {}).items():
        if isinstance(item, bool):
            continue
        if isinstance(item, (int, float)):
            numbers[name] = item
        elif isinstance(item, dict):
            for key, sub in item.items():
                if isinstance(sub, (int, float)) and not isinstance(sub, bool):
                    numbers[f"{name}.{key}"] = sub
    return numbers


def unflatten(numbers):
    value = {}
    for name, number in numbers.items():
        head, dot, tail = name.partition(".")
        if dot:
            value.setdefault(head, {})[tail] = number
        else:
            value[name] = number
    return value


def hour_of(moment):
    return moment.replace(minute=0, second=0, microsecond=0)


def compact(recorder=None, now=None):
    now = now or timezone.now()
    raw_cutoff = hour_of(now - timedelta(hours=conf.number("HEALTH_RAW_RETENTION_HOURS")))
    hours = 0
    first = CheckResult.objects.filter(checked_at__lt=raw_cutoff).order_by("checked_at").values_list(
        "checked_at", flat=True).first()
    hour = hour_of(first) if first else None
    while hour is not None and hour < raw_cutoff:
        _aggregate_hour(hour)
        hours += 1
        following = CheckResult.objects.filter(checked_at__gte=hour + timedelta(hours=1),
                                               checked_at__lt=raw_cutoff).order_by("checked_at")
        nxt = following.values_list("checked_at", flat=True).first()
        hour = hour_of(nxt) if nxt else None
    if recorder:
        recorder.progress(60, f"Aggregated {hours} hour(s) of raw results")
    aggregate_cutoff = now - timedelta(days=conf.number("HEALTH_AGGREGATE_RETENTION_DAYS"))
    aggregates, _ = CheckAggregate.objects.filter(hour__lt=aggregate_cutoff).delete()
    event_cutoff = now - timedelta(days=conf.number("HEALTH_EVENT_RETENTION_DAYS"))
    events, _ = HealthEvent.objects.filter(at__lt=event_cutoff).delete()
    alerts, _ = Alert.objects.filter(created_at__lt=event_cutoff).delete()
    job_cutoff = now - timedelta(hours=conf.number("HEALTH_SWEEP_JOB_RETENTION_HOURS"))
    jobs, _ = Job.objects.filter(kind=SWEEP_JOB_KIND, created_by__isnull=True, state=Job.State.SUCCEEDED,
                                 finished_at__lt=job_cutoff).delete()
    result = {"hours_aggregated": hours, "aggregates_removed": aggregates, "events_removed": events,
              "alerts_removed": alerts, "sweep_jobs_removed": jobs}
    if recorder:
        recorder.log(", ".join(f"{name.replace('_', ' ')}: {count}" for name, count in result.items()))
    return result


@transaction.atomic
def _aggregate_hour(hour):
    rows = CheckResult.objects.filter(checked_at__gte=hour, checked_at__lt=hour + timedelta(hours=1))
    groups = defaultdict(lambda: {"runs": 0, "failures": 0, "duration": 0, "sums": defaultdict(float),
                                  "counts": defaultdict(int)})
    for host_id, check, ok, duration, value in rows.values_list("host_id", "check_type", "ok", "duration_ms",
                                                                "value").iterator(chunk_size=2000):
        group = groups[(host_id, check)]
        group["runs"] += 1
        group["failures"] += 0 if ok else 1
        group["duration"] += duration
        for name, number in numeric_values(value).items():
            group["sums"][name] += number
            group["counts"][name] += 1
    for (host_id, check), group in groups.items():
        averages = {name: round(total / group["counts"][name], 2) for name, total in group["sums"].items()}
        aggregate, created = CheckAggregate.objects.get_or_create(
            host_id=host_id, check_type=check, hour=hour,
            defaults={"runs": group["runs"], "failures": group["failures"],
                      "duration_ms_avg": group["duration"] // group["runs"], "value": unflatten(averages)},
        )
        if not created:  # merge with what an earlier compaction of this hour wrote
            _merge(aggregate, group, averages)
    rows.delete()


def _merge(aggregate, group, averages):
    old_runs, new_runs = aggregate.runs, group["runs"]
    merged = numeric_values(aggregate.value)
    for name, average in averages.items():
        merged[name] = round((merged.get(name, average) * old_runs + average * new_runs) / (old_runs + new_runs), 2)
    aggregate.duration_ms_avg = (aggregate.duration_ms_avg * old_runs + group["duration"]) // (old_runs + new_runs)
    aggregate.runs += new_runs
    aggregate.failures += group["failures"]
    aggregate.value = unflatten(merged)
    aggregate.save()


# --- charts ------------------------------------------------------------------------------------

CHART_RANGES = {"6h": timedelta(hours=6), "24h": timedelta(hours=24), "7d": timedelta(days=7),
                "30d": timedelta(days=30)}


def metric_series(host, span, now=None):
    """Points of the metrics check over `span` (a timedelta): raw results where they are
    kept, hourly averages before. {"load1": [[iso time, value], ...], "disks": {mount: [...]}}."""
    now = now or timezone.now()
    since = now - span
    points = []
    for hour, value in CheckAggregate.objects.filter(host=host, check_type="metrics", hour__gte=since).order_by(
            "hour").values_list("hour", "value"):
        points.append((hour + timedelta(minutes=30), value))
    raw = CheckResult.objects.filter(host=host, check_type="metrics", checked_at__gte=since)
    for at, value in raw.order_by("checked_at").values_list("checked_at", "value"):
        if value:
            points.append((at, value))
    points = _thin(points)
    series = {"load1": [], "load5": [], "load15": [], "mem_used_pct": [], "disks": defaultdict(list)}
    for at, value in points:
        stamp = at.isoformat()
        for name in ("load1", "load5", "load15", "mem_used_pct"):
            if name in value:
                series[name].append([stamp, value[name]])
        for mount, percent in (value.get("disks") or {}).items():
            series["disks"][mount].append([stamp, percent])
    series["disks"] = dict(series["disks"])
    return series


def _thin(points, most=720):
    """At most `most` points (a chart of 24 h of 1-minute results stays light)."""
    if len(points) <= most:
        return points
    step = len(points) / most
    return [points[int(i * step)] for i in range(most)]
