"""API errors as clients expect them: field errors for bad input, never a 500 for
something a client can send (database integrity and validation errors become 400,
deleting something still in use becomes 409)."""

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


def django_validation_error_detail(exc):
    """A Django ValidationError as DRF-style field errors."""
    if not hasattr(exc, "error_dict"):
        return {"non_field_errors": exc.messages}
    return {("non_field_errors" if field == NON_FIELD_ERRORS else field): messages
            for field, messages in exc.message_dict.items()}


def _blockers(exc, shown=10):
    objects = list(exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects)
    names = sorted(str(obj) for obj in objects[:shown])
    more = f" and {len(objects) - shown} more" if len(objects) > shown else ""
    return ", ".join(names) + more


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        return Response(django_validation_error_detail(exc), status=status.HTTP_400_BAD_REQUEST)
    # before IntegrityError: ProtectedError and RestrictedError are subclasses of it
    if isinstance(exc, (ProtectedError, RestrictedError)):
        return Response(
            {"detail": f"Still in use; delete or move these first: {_blockers(exc)}."},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, IntegrityError):
        return Response(
            {"non_field_errors": ["This conflicts with an existing record (a unique value is already taken)."]},
            status=status.HTTP_400_BAD_REQUEST,
        )
    return drf_exception_handler(exc, context)
