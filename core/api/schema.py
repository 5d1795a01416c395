"""OpenAPI generation: document the error answers every operation can give, so clients
(and the schema fuzz test) know that 400/401/403/404/409 are part of the contract."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

ErrorDetailSerializer = inline_serializer("ErrorDetail", fields={"detail": serializers.CharField()})

# Field errors: {"field": ["message", ...]}, {"non_field_errors": [...]}, or for bulk
# writes {"<index>": {"field": [...]}}. A free-form object documents all three.
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "additionalProperties": {},
    "description": "Field errors keyed by field name (or by item index for bulk writes)",
}


class ErrorDocumentingAutoSchema(AutoSchema):
    # A write to a list URL (bulk create/update) answers a plain array: it takes no
    # filter or page parameters, whatever drf-spectacular infers from the list serializer.
    def get_filter_backends(self):
        return super().get_filter_backends() if self.method == "GET" else []

    def _get_paginator(self):
        return super()._get_paginator() if self.method == "GET" else None

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        # 404 everywhere: an unknown id, but also e.g. an unknown region asked by a query
        errors = {"401": ErrorDetailSerializer, "403": ErrorDetailSerializer, "404": ErrorDetailSerializer}
        if self.method != "DELETE":
            errors["400"] = VALIDATION_ERROR_SCHEMA
        if self.method == "DELETE":
            errors["409"] = ErrorDetailSerializer
        for code, body in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(body, code, direction=direction)
        return responses
