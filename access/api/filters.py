"""Filters of the access API lists."""

import django_filters

from core.filters import FilterSet, IntegerFilter

from ..models import HostKey


class HostKeyFilterSet(FilterSet):
    host = IntegerFilter(field_name="host_id", label="Host id")
    hostname = django_filters.CharFilter(field_name="host__hostname")
    trusted = django_filters.BooleanFilter(field_name="trusted_at", lookup_expr="isnull", exclude=True,
                                           label="true: trusted keys; false: keys pending trust")

    class Meta:
        model = HostKey
        fields = ["host", "hostname", "trusted"]
