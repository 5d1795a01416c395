"""The API's pages (DEFAULT_PAGINATION_CLASS): `limit` and `offset` that are no whole numbers,
or below their minimum, are field errors (400) instead of being silently replaced; a limit
above MAX_PAGE_SIZE is cut to it (on PostgreSQL a LIMIT beyond 64 bits was a 500)."""

from django import forms
from rest_framework import pagination, serializers

from core.pagination import MAX_PAGE_SIZE


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    max_limit = MAX_PAGE_SIZE
    limit_query_description = f"Number of results to return per page (at most {MAX_PAGE_SIZE})."

    def get_limit(self, request):
        limit = query_integer(request, self.limit_query_param, min_value=1)
        return self.default_limit if limit is None else min(limit, self.max_limit)

    def get_offset(self, request):
        return query_integer(request, self.offset_query_param, min_value=0) or 0

    def get_schema_operation_parameters(self, view):
        minimums = {self.limit_query_param: 1, self.offset_query_param: 0}
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = minimums[parameter["name"]]
        return parameters


def query_integer(request, name, min_value):
    """The whole number in query parameter `name`, None when it is absent or empty."""
    field = forms.IntegerField(min_value=min_value, required=False)
    try:
        return field.clean(request.query_params.get(name))
    except forms.ValidationError as error:
        raise serializers.ValidationError({name: error.messages}) from error
