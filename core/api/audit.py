"""Attribute change-log entries to the API user.

The auditlog middleware runs before DRF authenticates a token, so it only knows
session users. API writes therefore run inside `audited(request)`, which stamps every
LogEntry saved meanwhile with the request's user and address.

It builds on core.audit.acting_as, which (unlike auditlog's set_actor) nests.
"""

from contextlib import contextmanager

from django.db import transaction

from core.audit import acting_as
from core.middleware import ChangeLogMiddleware


@contextmanager
def audited(request):
    """Log every change made inside the block as done by request.user."""
    data = ChangeLogMiddleware().get_extra_data(request)
    with acting_as(request.user, data.get("remote_addr"), data.get("remote_port")):
        yield


class AuditedMixin:
    # Viewset writes run in one transaction (a failing nested write leaves nothing
    # behind) and their change-log entries name the API user.

    def perform_create(self, serializer):
        with transaction.atomic(), audited(self.request):
            super().perform_create(serializer)

    def perform_update(self, serializer):
        with transaction.atomic(), audited(self.request):
            super().perform_update(serializer)

    def perform_destroy(self, instance):
        with transaction.atomic(), audited(self.request):
            super().perform_destroy(instance)
