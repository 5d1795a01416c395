"""Filter sets shared by the API and the console, so `?status=spare&role=db&q=bat`
means the same in both."""

import django_filters
from django.db.models import Q

from core.filters import FilterSet

from .models import Host, HostStatus, Rack, Role, Site, Tag


class HostFilterSet(FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.MultipleChoiceFilter(choices=HostStatus.choices)
    role = django_filters.ModelMultipleChoiceFilter(field_name="role__slug", to_field_name="slug", queryset=Role.objects.all())
    site = django_filters.ModelMultipleChoiceFilter(field_name="site__slug", to_field_name="slug", queryset=Site.objects.all())
    rack = django_filters.ModelChoiceFilter(queryset=Rack.objects.all())
    tag = django_filters.ModelMultipleChoiceFilter(field_name="tags__slug", to_field_name="slug", queryset=Tag.objects.all())
    owner = django_filters.CharFilter(lookup_expr="iexact")
    vendor = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Host
        fields = ["q", "status", "role", "site", "rack", "tag", "owner", "vendor"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(hostname__icontains=value)
            | Q(serial__icontains=value)
            | Q(asset_tag__icontains=value)
            | Q(owner__icontains=value)
            | Q(notes__icontains=value)
            | Q(interfaces__ip_address__startswith=value)
            | Q(interfaces__mac_address__iexact=value)
            | Q(mgmt_address__startswith=value)
        ).distinct()
