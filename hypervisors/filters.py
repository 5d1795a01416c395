"""Filter sets for VMs and hypervisors, meant to be shared by the console and the API,
so `?state=running&ha=true&q=luna` means the same in both."""

import django_filters
from django import forms
from django.db.models import Q

from core.filters import FilterSet
from inventory.models import Role

from .models import Hypervisor, VirtualMachine

# A VM libvirt no longer reports, or whose hypervisor did not answer (VirtualMachine.is_stale).
STALE_STATES = (VirtualMachine.State.GONE, VirtualMachine.State.UNKNOWN)
ANY_YES_NO = [("", "Any"), ("true", "Yes"), ("false", "No")]


class VirtualMachineFilterSet(FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    hypervisor = django_filters.ModelChoiceFilter(
        queryset=Hypervisor.objects.select_related("host"), empty_label="Any hypervisor"
    )
    state = django_filters.ChoiceFilter(choices=VirtualMachine.State.choices, empty_label="Any state")
    role = django_filters.ModelChoiceFilter(
        field_name="role", to_field_name="slug", queryset=Role.objects.all(), empty_label="Any role",
        label="Role"
    )
    ha = django_filters.BooleanFilter(field_name="ha_enabled", label="HA", widget=forms.Select(choices=ANY_YES_NO))
    stale = django_filters.BooleanFilter(method="filter_stale", label="Stale", widget=forms.Select(choices=ANY_YES_NO))
    migrated = django_filters.BooleanFilter(method="filter_migrated", label="Migrated",
                                            widget=forms.Select(choices=ANY_YES_NO))

    class Meta:
        model = VirtualMachine
        fields = ["q", "hypervisor", "state", "role", "ha", "stale", "migrated"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value)
            | Q(uuid__icontains=value)
            | Q(owner__icontains=value)
            | Q(anti_affinity_group__icontains=value)
            | Q(inventory_host__hostname__icontains=value)
        )

    def filter_migrated(self, queryset, name, value):
        """Moved to the cloud (a cloud instance recorded); this copy is kept for a rollback."""
        return queryset.exclude(cloud_instance_id="") if value else queryset.filter(cloud_instance_id="")

    def filter_stale(self, queryset, name, value):
        stale = Q(state__in=STALE_STATES)
        return queryset.filter(stale) if value else queryset.exclude(stale)
