"""Default periodic tasks, stored with django-celery-beat so operators can change them
in the database (admin) without a deploy. Created once after migrate; never overwritten."""

DEFAULT_SCHEDULES = [
    # (name, task, every N seconds)
    ("Sync all hypervisors", "hypervisors.scheduled_sync", 300),
    ("Purge old change log and jobs", "core.scheduled_purge_history", 24 * 3600),
    # A tick: sweeps the health checks that are due (intervals per check, role, host: health.CheckSchedule)
    ("Health checks", "health.scheduled_sweep", 5),
    ("Compact health history", "health.scheduled_compact_history", 3600),
    # A tick: continuous replication of runs waiting for cutover (interval per plan: sync_every_minutes)
    ("Keep migration replicas in sync", "migrations_tool.scheduled_sync", 60),
]


def ensure_default_schedules(**kwargs):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for name, task, seconds in DEFAULT_SCHEDULES:
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.create(name=name, task=task, interval=interval)
