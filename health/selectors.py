"""Read-only queries of health data for the console (no state changes here)."""

from django.db.models import Count, Prefetch, Q

from access.models import HostKey

from .models import Alert, AlertDelivery, CheckStatus, HealthEvent, HealthState, HostHealth

RECENT_EVENTS = 20
RECENT_ALERTS = 10


def with_health(hosts):
    """Hosts with their HostHealth joined (one query for a page of a host list)."""
    return hosts.select_related("health")


WORST_FIRST = (HealthState.FAILED, HealthState.SUSPECT, HealthState.HEALTHY, HealthState.UNKNOWN)


def state_counts():
    counts = dict(HostHealth.objects.values_list("state").annotate(n=Count("pk")).order_by())
    return [(state.value, state.label, counts.get(state, 0)) for state in WORST_FIRST]


def not_healthy():
    """Hosts that are failed, suspect, unknown or flapping, worst first."""
    order = {HealthState.FAILED: 0, HealthState.SUSPECT: 1, HealthState.UNKNOWN: 2, HealthState.HEALTHY: 3}
    rows = list(
        HostHealth.objects.filter(~Q(state=HealthState.HEALTHY) | Q(flapping=True))
        .select_related("host__site", "host__role")
        .prefetch_related(Prefetch("host__check_statuses", queryset=CheckStatus.objects.filter(ok=False),
                                   to_attr="failing_statuses"))
    )
    return sorted(rows, key=lambda h: (order.get(h.state, 9), h.since))


def failing_checks_on_healthy_hosts():
    return (CheckStatus.objects.filter(ok=False, host__health__state=HealthState.HEALTHY, host__health__flapping=False)
            .select_related("host").order_by("host__hostname", "check_type"))


def recent_events(host=None, limit=RECENT_EVENTS):
    events = HealthEvent.objects.select_related("host")
    if host is not None:
        events = events.filter(host=host)
    return events[:limit]


def recent_alerts(host=None, limit=RECENT_ALERTS):
    alerts = Alert.objects.select_related("host").prefetch_related(
        Prefetch("deliveries", queryset=AlertDelivery.objects.order_by("target_name")))
    if host is not None:
        alerts = alerts.filter(host=host)
    return alerts[:limit]


def pending_key_count():
    return HostKey.objects.filter(trusted_at__isnull=True).count()


def host_statuses(host):
    return CheckStatus.objects.filter(host=host).order_by("check_type")
