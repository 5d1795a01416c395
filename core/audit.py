"""Who the change log names for changes made outside a console request: an API token
user, an import's user, a task acting for the user who started its job.

django-auditlog's own `set_actor` does not nest: when an inner block exits, later
entries of the outer block lose their actor. This context variable is reset on exit,
so blocks nest correctly; it stamps every LogEntry saved while it is set.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from auditlog.models import LogEntry
from django.db.models.signals import pre_save
from django.dispatch import receiver

_acting = ContextVar("opsconsole_audit_actor", default=None)


@receiver(pre_save, sender=LogEntry, dispatch_uid="core.audit.stamp_log_entry")
def _stamp_log_entry(sender, instance, **kwargs):
    data = _acting.get()
    if not data:
        return
    if instance.actor_id is None and data.get("actor") is not None:
        instance.actor = data["actor"]
        instance.actor_email = getattr(data["actor"], "email", None)
    for field in ("remote_addr", "remote_port"):
        if getattr(instance, field) is None:
            setattr(instance, field, data.get(field))


@contextmanager
def acting_as(user, remote_addr=None, remote_port=None):
    """Log every change made inside the block as done by `user` (None: the system)."""
    actor = user if user is not None and user.is_authenticated else None
    outer = _acting.get() or {}
    if actor is None and outer.get("actor") is not None:
        actor = outer["actor"]  # an inner "no user" block keeps the outer user
    token = _acting.set({"actor": actor, "remote_addr": remote_addr or outer.get("remote_addr"),
                         "remote_port": remote_port or outer.get("remote_port")})
    try:
        yield
    finally:
        _acting.reset(token)
