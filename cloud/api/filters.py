import django_filters
from django import forms

from core.filters import FilterSet, IntegerFilter

from ..models import CloudAccount, DiskReplication, InstanceType, OnPremCostModel, UtilisationRecord

ANY_YES_NO = [("", "Any"), ("true", "Yes"), ("false", "No")]


class CloudAccountFilterSet(FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Search")

    class Meta:
        model = CloudAccount
        fields = ["q", "region", "is_embedded", "auth_mode"]


class InstanceTypeFilterSet(FilterSet):
    """Shared by the API and the console's instance type page."""

    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")
    region = django_filters.CharFilter()
    family = django_filters.CharFilter()
    generation = django_filters.ChoiceFilter(choices=InstanceType.Generation.choices, empty_label="Any generation")
    burstable = django_filters.BooleanFilter(widget=forms.Select(choices=ANY_YES_NO))
    bare_metal = django_filters.BooleanFilter(widget=forms.Select(choices=ANY_YES_NO))
    architecture = django_filters.CharFilter(lookup_expr="icontains")
    min_vcpus = IntegerFilter(field_name="vcpus", lookup_expr="gte", min_value=0, max_value=100000)
    max_vcpus = IntegerFilter(field_name="vcpus", lookup_expr="lte", min_value=0, max_value=100000)
    min_memory_mib = IntegerFilter(field_name="memory_mib", lookup_expr="gte", min_value=0,
                                                 max_value=2**31 - 1)
    max_memory_mib = IntegerFilter(field_name="memory_mib", lookup_expr="lte", min_value=0,
                                                 max_value=2**31 - 1)

    class Meta:
        model = InstanceType
        fields = ["q", "region", "family", "generation", "burstable", "bare_metal", "architecture"]


class OnPremCostModelFilterSet(FilterSet):
    role = django_filters.CharFilter(field_name="role__slug")

    class Meta:
        model = OnPremCostModel
        fields = ["kind", "role"]


class UtilisationFilterSet(FilterSet):
    class Meta:
        model = UtilisationRecord
        fields = ["host", "vm", "source"]


class DiskReplicationFilterSet(FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Search")
    state = django_filters.ChoiceFilter(choices=DiskReplication.State.choices)

    class Meta:
        model = DiskReplication
        fields = ["q", "account", "state"]
