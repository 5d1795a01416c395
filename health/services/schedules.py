"""When each check runs on each host.

Beat runs one tick (`health.scheduled_sweep`, every few seconds, editable in the beat
admin); the tick sweeps the (host, check) pairs that are due under the CheckSchedule
rows: a host's own schedule of a check wins over its role's, which wins over the
schedule for every host. A suspect or failed host has its liveness checks repeated at
least every HEALTH_SUSPECT_INTERVAL_SECONDS, to confirm or clear a failure quickly.
"""

from .. import conf
from ..models import Check, CheckSchedule, HealthState

# Defaults created after migrate for a check type that has no schedule at all.
DEFAULT_INTERVALS = {
    Check.SSH: 30,
    Check.METRICS: 60,
    Check.LIBVIRT: 15,  # hypervisors: a dead one must be noticed within the minute
    Check.TCP: 60,
    Check.BMC: 120,
}


def ensure_default_check_schedules(**kwargs):
    from auditlog.context import disable_auditlog

    # Installing the defaults is no one's change: keep it out of the change log.
    with disable_auditlog():
        for check, seconds in DEFAULT_INTERVALS.items():
            if not CheckSchedule.objects.filter(check_type=check).exists():
                CheckSchedule.objects.create(check_type=check, interval_seconds=seconds)


def slack(interval):
    """How early a check may run: beat ticks every few seconds, and a check that would be
    due just after a tick runs at that tick rather than a whole tick later."""
    return min(5.0, interval * 0.2)


class ScheduleBook:
    def __init__(self):
        self.default, self.by_role, self.by_host = {}, {}, {}
        for schedule in CheckSchedule.objects.all():
            if schedule.host_id:
                self.by_host[(schedule.host_id, schedule.check_type)] = schedule
            elif schedule.role_id:
                self.by_role[(schedule.role_id, schedule.check_type)] = schedule
            else:
                self.default[schedule.check_type] = schedule

    def schedule_for(self, host, check):
        return (self.by_host.get((host.pk, check)) or self.by_role.get((host.role_id, check))
                or self.default.get(check))

    def interval(self, host, check):
        """Seconds between runs of `check` on `host`, or None when it is off there."""
        schedule = self.schedule_for(host, check)
        if schedule is None or not schedule.enabled:
            return None
        return schedule.interval_seconds


def due_checks(host, applicable, book, last_run, health_state, now):
    """The checks of `applicable` that are scheduled for `host` and due at `now`.

    last_run: {check: datetime of its last result}."""
    suspect_interval = conf.number("HEALTH_SUSPECT_INTERVAL_SECONDS")
    watched = health_state in (HealthState.SUSPECT, HealthState.FAILED)
    due = set()
    for check in applicable:
        interval = book.interval(host, check)
        if interval is None:
            continue
        if watched and check in conf.liveness_checks():
            interval = min(interval, suspect_interval)
        previous = last_run.get(check)
        if previous is None or (now - previous).total_seconds() >= interval - slack(interval):
            due.add(check)
    return due


def enabled_checks(host, applicable, book):
    return {check for check in applicable if book.interval(host, check) is not None}
