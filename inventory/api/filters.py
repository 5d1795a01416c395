"""Filters of the inventory API lists. Hosts use the HostFilterSet shared with the
console (inventory.filters), so a query string means the same in both."""

import copy

import django_filters
from django import forms
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from core.filters import FilterSet
from inventory.filters import HostFilterSet
from inventory.models import Host, Interface, JournalEntry, NamingScheme, Rack, Role, Site, Tag


class IPAddressFilter(django_filters.CharFilter):
    """Exact match on an IP address column; a value that is no IP address is a 400
    (PostgreSQL's inet type would refuse to compare it)."""

    field_class = forms.GenericIPAddressField


class NameSearchFilterSet(FilterSet):
    """`?q=` searches the fields listed in `search_fields`."""

    search_fields = ("name",)
    q = django_filters.CharFilter(method="search", label="Search")

    def search(self, queryset, name, value):
        condition = Q()
        for field in self.search_fields:
            condition |= Q(**{f"{field}__icontains": value.strip()})
        return queryset.filter(condition)


class SiteFilterSet(NameSearchFilterSet):
    search_fields = ("name", "slug", "description", "address")

    class Meta:
        model = Site
        fields = ["q", "slug"]


class RackFilterSet(NameSearchFilterSet):
    site = django_filters.CharFilter(field_name="site__slug", label="Site slug")

    class Meta:
        model = Rack
        fields = ["q", "site", "name"]


class NamingSchemeFilterSet(NameSearchFilterSet):
    class Meta:
        model = NamingScheme
        fields = ["q", "name"]


class RoleFilterSet(NameSearchFilterSet):
    search_fields = ("name", "slug", "description")

    class Meta:
        model = Role
        fields = ["q", "slug", "naming_scheme"]


class TagFilterSet(NameSearchFilterSet):
    search_fields = ("name", "slug")

    class Meta:
        model = Tag
        fields = ["q", "slug"]


class InterfaceFilterSet(NameSearchFilterSet):
    search_fields = ("name", "mac_address", "ip_address", "host__hostname")
    host = django_filters.ModelChoiceFilter(queryset=Host.objects.all(), label="Host id")
    hostname = django_filters.CharFilter(field_name="host__hostname")
    mac_address = django_filters.CharFilter(lookup_expr="iexact")
    ip_address = IPAddressFilter()

    class Meta:
        model = Interface
        fields = ["q", "host", "hostname", "name", "mac_address", "ip_address"]


class JournalEntryFilterSet(NameSearchFilterSet):
    search_fields = ("text",)
    host = django_filters.ModelChoiceFilter(queryset=Host.objects.all(), label="Host id")
    hostname = django_filters.CharFilter(field_name="host__hostname")
    kind = django_filters.MultipleChoiceFilter(choices=JournalEntry.Kind.choices)
    author = django_filters.CharFilter(field_name="author__username", label="Username of the author")

    class Meta:
        model = JournalEntry
        fields = ["q", "host", "hostname", "kind", "author"]


def _documented_as_string(filter_field):
    """A copy of a slug filter that the OpenAPI schema documents as a string:
    drf-spectacular cannot follow `field_name="role__slug", to_field_name="slug"`."""
    return extend_schema_field(OpenApiTypes.STR)(copy.deepcopy(filter_field))


class HostApiFilterSet(HostFilterSet):
    """The console's HostFilterSet, unchanged in behaviour, with a precise schema."""


for _name in ("role", "site", "tag"):
    HostApiFilterSet.base_filters[_name] = _documented_as_string(HostFilterSet.base_filters[_name])
