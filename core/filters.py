"""What every FilterSet of the product shares, in the console and the API: integers are
checked against the column they filter, so a value out of its range is a field error (400)
and never reaches the database (on SQLite an OverflowError, a 500).

Declare integer filters as `IntegerFilter(...)` and derive every FilterSet from `FilterSet`
here (core.api.filters.ApiFilterSet for those DRF builds from `filterset_fields`): then the
integer fields listed in Meta.fields get an IntegerFilter too."""

import django_filters
from django import forms
from django.db import models, router
from django_filters.utils import get_model_field
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from .integers import column_range


@extend_schema_field(OpenApiTypes.INT)
class IntegerFilter(django_filters.NumberFilter):
    """A whole number within the range of the column it filters (and of min_value and
    max_value, when given): "1.5", "1e3" and 10**30 are field errors."""

    field_class = forms.IntegerField

    @property
    def field(self):
        if not hasattr(self, "_field"):
            low, high = self.column_range()
            self.extra["min_value"] = max(low, self.extra.get("min_value", low))
            self.extra["max_value"] = min(high, self.extra.get("max_value", high))
        return super().field

    def column_range(self):
        model_field = get_model_field(self.model, self.field_name) if self.model else None
        if model_field is None:  # a method filter on no column: the widest integer column
            model_field = models.BigIntegerField()
        return column_range(model_field, using=router.db_for_read(self.model) if self.model else "default")


def with_integer_filters(filter_defaults):
    """django-filter's filters for model fields (FilterSet.FILTER_DEFAULTS), with
    IntegerFilter for every integer field (ids and foreign keys' own columns included)."""
    integer_fields = [db_field for db_field in filter_defaults if issubclass(db_field, models.IntegerField)]
    return {**filter_defaults, **{db_field: {"filter_class": IntegerFilter} for db_field in integer_fields}}


class FilterSet(django_filters.FilterSet):
    FILTER_DEFAULTS = with_integer_filters(django_filters.FilterSet.FILTER_DEFAULTS)
