"""Filters of the health API lists."""

import django_filters

from core.api.filters import UtcIsoDateTimeFilter
from core.filters import FilterSet, IntegerFilter

from ..models import Alert, Check, CheckResult, CheckSchedule, HealthState, HostHealth


class CheckResultFilterSet(FilterSet):
    host = IntegerFilter(field_name="host_id", label="Host id")
    hostname = django_filters.CharFilter(field_name="host__hostname")
    check = django_filters.MultipleChoiceFilter(field_name="check_type", choices=Check.choices)
    ok = django_filters.BooleanFilter()
    since = UtcIsoDateTimeFilter(field_name="checked_at", lookup_expr="gte")
    until = UtcIsoDateTimeFilter(field_name="checked_at", lookup_expr="lte")

    class Meta:
        model = CheckResult
        fields = ["host", "hostname", "check", "ok", "since", "until"]


class HostHealthFilterSet(FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=HealthState.choices)
    flapping = django_filters.BooleanFilter()
    hostname = django_filters.CharFilter(field_name="host__hostname")
    site = django_filters.CharFilter(field_name="host__site__slug", label="Site slug")

    class Meta:
        model = HostHealth
        fields = ["state", "flapping", "hostname", "site"]


class CheckScheduleFilterSet(FilterSet):
    check = django_filters.ChoiceFilter(field_name="check_type", choices=Check.choices)
    role = django_filters.CharFilter(field_name="role__slug", label="Role slug")
    host = IntegerFilter(field_name="host_id", label="Host id")

    class Meta:
        model = CheckSchedule
        fields = ["check", "role", "host", "enabled"]


class AlertFilterSet(FilterSet):
    host = IntegerFilter(field_name="host_id", label="Host id")
    event = django_filters.MultipleChoiceFilter(choices=Alert.Event.choices)
    since = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = Alert
        fields = ["host", "event", "since"]
