"""Measured utilisation from the health app's metrics check, as cloud sizing reads it.

The metrics check records the load average and memory use of each host it reaches over
SSH (health.checks.metrics): raw results for a day, hourly averages after that. CPU use
is the 5-minute load over the workload's vCPUs (a load of 2 on 4 cores is 50%), capped
at 100%; memory use is `mem_used_pct`. A VM is measured through its inventory host
record (the checks reach the guest by that host's address).

    figures = health_utilisation(workloads)   # {workload.key: Utilisation(source="health")}
                                              # five queries, whatever the number of workloads
"""

import math
from datetime import timedelta

from django.db import connection
from django.db.models import FloatField, Max, Min
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from cloud.services.workloads import HOST, VM, Utilisation
from health.models import CheckAggregate, CheckResult
from hypervisors.models import VirtualMachine

METRICS = "metrics"
WINDOW_DAYS = 30


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(math.ceil(fraction * len(ordered))) - 1)]


def _host_of_each_workload(workloads):
    """{host id: workload} for hosts, and VMs through their inventory host (one query)."""
    by_host = {w.id: w for w in workloads if w.kind == HOST}
    vms = {w.id: w for w in workloads if w.kind == VM}
    if vms:
        for vm_id, host_id in VirtualMachine.objects.filter(pk__in=list(vms), inventory_host__isnull=False) \
                .values_list("pk", "inventory_host_id"):
            by_host[host_id] = vms[vm_id]
    return by_host


def _samples(host_ids, since):
    """{host id: [(load5, load1, mem_used_pct)]} of the metrics check (hourly averages and
    raw results), the numbers read out of the JSON by the database, and {host id: days
    the samples span}."""
    numbers = [Cast(KT(f"value__{name}"), FloatField()) for name in ("load5", "load1", "mem_used_pct")]
    sources = (
        (CheckAggregate.objects.filter(host_id__in=host_ids, check_type=METRICS, hour__gte=since), "hour"),
        (CheckResult.objects.filter(host_id__in=host_ids, check_type=METRICS, ok=True, checked_at__gte=since),
         "checked_at"),
    )
    samples, spans = {}, {}
    for rows, time_field in sources:
        # Tens of thousands of plain numbers: read straight from the cursor, without the
        # ORM's per-value converters (they cost more than the query itself).
        query, params = rows.values_list("host_id", *numbers).query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(query, params)
            for host_id, *values in cursor.fetchall():
                samples.setdefault(host_id, []).append(values)
        for host_id, first, last in rows.order_by().values("host_id").annotate(
                first=Min(time_field), last=Max(time_field)).values_list("host_id", "first", "last"):
            known = spans.get(host_id)
            spans[host_id] = (min(first, known[0]), max(last, known[1])) if known else (first, last)
    return samples, {host_id: (last - first).days for host_id, (first, last) in spans.items()}


def from_samples(samples, vcpus, days):
    """A Utilisation from (load5, load1, mem_used_pct) samples, or None when they hold no
    load or no memory figure."""
    cpus = max(1, vcpus)
    cpu = [min(100.0, 100.0 * load / cpus) for load, _peak, _mem in samples if load is not None]
    memory = [min(100.0, max(0.0, mem)) for _load, _peak, mem in samples if mem is not None]
    if not cpu or not memory:
        return None
    peak = max(load if peak is None else peak for load, peak, _mem in samples if load is not None)
    return Utilisation(p95_cpu_percent=round(percentile(cpu, 0.95), 2),
                       p95_memory_percent=round(percentile(memory, 0.95), 2),
                       max_cpu_percent=round(min(100.0, 100.0 * peak / cpus), 2), days=days, source="health")


def health_utilisation(workloads, now=None, window_days=WINDOW_DAYS):
    """{workload.key: Utilisation} for the workloads the metrics check measured over the
    last `window_days` days."""
    by_host = _host_of_each_workload(workloads)
    if not by_host:
        return {}
    since = (now or timezone.now()) - timedelta(days=window_days)
    figures = {}
    samples, days = _samples(list(by_host), since)
    for host_id, values in samples.items():
        workload = by_host[host_id]
        measured = from_samples(values, workload.vcpus, days.get(host_id, 0))
        if measured is not None:
            figures[workload.key] = measured
    return figures
