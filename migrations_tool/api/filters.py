import django_filters

from core.filters import FilterSet

from ..models import MigrationPlan, PlannedWorkload, Strategy


class PlanFilterSet(FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")

    class Meta:
        model = MigrationPlan
        fields = ["q", "status", "account"]


class PlannedWorkloadFilterSet(FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")
    strategy = django_filters.ChoiceFilter(choices=Strategy.choices)

    class Meta:
        model = PlannedWorkload
        fields = ["q", "plan", "wave", "strategy", "status"]
