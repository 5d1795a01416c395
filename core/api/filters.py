from datetime import UTC

import django_filters
from auditlog.models import LogEntry
from django.db.models import Q
from django_filters import rest_framework

from core.filters import FilterSet, IntegerFilter, with_integer_filters
from core.models import Job

from .serializers import ACTION_NAMES


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time filter that compares in UTC: PostgreSQL refuses offsets
    beyond +-15:59, which ISO 8601 (and so the form field) allows."""

    def filter(self, qs, value):
        return super().filter(qs, value.astimezone(UTC) if value else value)


class ApiFilterSet(rest_framework.FilterSet):
    """The FilterSet DjangoFilterBackend builds for a view's `filterset_fields`."""

    FILTER_DEFAULTS = with_integer_filters(rest_framework.FilterSet.FILTER_DEFAULTS)


class FilterBackend(rest_framework.DjangoFilterBackend):
    """DEFAULT_FILTER_BACKENDS: views that list `filterset_fields` get IntegerFilters too."""

    filterset_base = ApiFilterSet


class JobFilterSet(FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=Job.State.choices)
    kind = django_filters.CharFilter()
    created_by = django_filters.CharFilter(field_name="created_by__username", label="Username of who started it")

    class Meta:
        model = Job
        fields = ["state", "kind", "created_by"]


class ChangeLogFilterSet(FilterSet):
    model = django_filters.CharFilter(
        method="filter_model", label='Changed model: "host" or "inventory.host"'
    )
    content_type = IntegerFilter(field_name="content_type_id", label="Content type id")
    object_id = django_filters.CharFilter(field_name="object_pk", label="Primary key of the changed object")
    actor = django_filters.CharFilter(field_name="actor__username", label="Username of who made the change")
    action = django_filters.ChoiceFilter(choices=[(name, name) for name in ACTION_NAMES.values()], method="filter_action")
    since = UtcIsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    until = UtcIsoDateTimeFilter(field_name="timestamp", lookup_expr="lte")

    class Meta:
        model = LogEntry
        fields = ["model", "content_type", "object_id", "actor", "action", "since", "until"]

    def filter_model(self, queryset, name, value):
        app_label, _, model = value.strip().lower().rpartition(".")
        condition = Q(content_type__model=model)
        if app_label:
            condition &= Q(content_type__app_label=app_label)
        return queryset.filter(condition)

    def filter_action(self, queryset, name, value):
        codes = [code for code, action_name in ACTION_NAMES.items() if action_name == value]
        return queryset.filter(action__in=codes)
