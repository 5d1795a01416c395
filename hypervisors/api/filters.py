"""Filters of the hypervisor and VM lists: `?q=` searches, the others narrow by field."""

import copy

import django_filters
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from core.filters import FilterSet
from inventory.models import HostStatus, Site, Tag

from ..filters import VirtualMachineFilterSet
from ..models import Hypervisor


@extend_schema_field(OpenApiTypes.STR)
class SlugFilter(django_filters.ModelMultipleChoiceFilter):
    """Objects referred to by slug; repeat the parameter for several (any of them matches)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, to_field_name="slug", **kwargs)


class SearchFilterSet(FilterSet):
    search_fields = ()
    q = django_filters.CharFilter(method="search", label="Search")

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        condition = Q()
        for field in self.search_fields:
            condition |= Q(**{f"{field}__icontains": value})
        return queryset.filter(condition)


class HypervisorFilterSet(SearchFilterSet):
    search_fields = ("host__hostname", "uri", "libvirt_hostname")
    site = SlugFilter(field_name="host__site__slug", queryset=Site.objects.all())
    status = django_filters.MultipleChoiceFilter(field_name="host__status", choices=HostStatus.choices,
                                                 label="Status of the inventory host")
    connection = django_filters.MultipleChoiceFilter(choices=Hypervisor.Connection.choices)

    class Meta:
        model = Hypervisor
        fields = ["q", "site", "status", "connection", "enabled", "shared_storage"]


class VirtualMachineApiFilterSet(VirtualMachineFilterSet):
    """The console's VM filters (hypervisors.filters), plus tag, site and owner."""

    site = SlugFilter(field_name="hypervisor__host__site__slug", queryset=Site.objects.all())
    tag = SlugFilter(field_name="tags__slug", queryset=Tag.objects.all())
    owner = django_filters.CharFilter(lookup_expr="iexact")

    class Meta(VirtualMachineFilterSet.Meta):
        fields = [*VirtualMachineFilterSet.Meta.fields, "site", "tag", "owner", "anti_affinity_group"]


# drf-spectacular cannot follow a slug filter (field_name="role__slug", to_field_name="slug").
VirtualMachineApiFilterSet.base_filters["role"] = extend_schema_field(OpenApiTypes.STR)(
    copy.deepcopy(VirtualMachineFilterSet.base_filters["role"])
)
