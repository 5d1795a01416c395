"""Thin Celery wrappers around the health services."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from core.jobs import job_task, start
from core.models import Job

from .models import AlertDelivery
from .services import alerts, history, recovery, sweep

SWEEP_KIND = history.SWEEP_JOB_KIND
# A scheduled sweep older than this that still looks unfinished was lost (a killed worker):
# it no longer holds the next ones back.
STUCK_SWEEP = timedelta(minutes=10)


@job_task(SWEEP_KIND)
def sweep_job(job, recorder):
    params = job.params
    return sweep.sweep(recorder, host_ids=params.get("host_ids"), checks=params.get("checks"),
                       due_only=params.get("due_only", False), concurrency=params.get("concurrency"))


def start_sweep(user=None, host_ids=None, checks=None, title=None, target=None):
    """Create a sweep Job and send it once committed."""
    params = {"host_ids": host_ids, "checks": checks}
    return start(SWEEP_KIND, title or "Health checks", user=user, params=params, target=target)


@shared_task(name="health.scheduled_sweep")
def scheduled_sweep():
    """Beat tick: a sweep Job of the checks that are due, unless none is, or the previous
    scheduled sweep is still going (sweeps never pile up behind a slow one)."""
    busy = Job.objects.filter(kind=SWEEP_KIND, created_by__isnull=True, params__due_only=True,
                              state__in=[Job.State.PENDING, Job.State.RUNNING],
                              created_at__gte=timezone.now() - STUCK_SWEEP)
    if busy.exists() or not sweep.anything_due():
        return None
    return start(SWEEP_KIND, "Scheduled health checks", params={"due_only": True}).pk


@job_task("health.compact_history")
def compact_history_job(job, recorder):
    return history.compact(recorder)


@shared_task(name="health.scheduled_compact_history")
def scheduled_compact_history():
    return start("health.compact_history", "Compact health history").pk


@shared_task(name=alerts.DELIVER_TASK, bind=True, max_retries=None, acks_late=True)
def deliver_alert(self, delivery_id):
    """One delivery attempt; on failure, retry later (doubling delay) until the attempts run out."""
    delivery = AlertDelivery.objects.select_related("alert").filter(pk=delivery_id).first()
    if delivery is None or delivery.state in (AlertDelivery.State.DELIVERED, AlertDelivery.State.FAILED):
        return None
    if alerts.attempt_delivery(delivery) or delivery.state == AlertDelivery.State.FAILED:
        return delivery.state
    raise self.retry(countdown=alerts.backoff(delivery.attempts))


@job_task(recovery.RECOVER_KIND)
def recover_job(job, recorder):
    return recovery.run_recovery(job, recorder)
