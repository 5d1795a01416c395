from auditlog.context import set_actor


class AuditedMixin:
    """Attribute change-log entries to the API user. The auditlog middleware runs before
    DRF authenticates a token, so the actor is set here, around the write."""

    def perform_create(self, serializer):
        with set_actor(self.request.user):
            super().perform_create(serializer)

    def perform_update(self, serializer):
        with set_actor(self.request.user):
            super().perform_update(serializer)

    def perform_destroy(self, instance):
        with set_actor(self.request.user):
            super().perform_destroy(instance)
