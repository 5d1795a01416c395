"""One function per action, with the role it needs declared once.

An action ("power a VM", "migrate a VM", "fence a host") is a service function decorated
with `@action(Role.X)`. It is called with the acting `user=` (or `SYSTEM` for the beat and
for jobs that act on their own): the decorator refuses a user without the role, then the
function makes its own checks and starts its job. The console and the API read the same
declaration (`fn.role`, `fn.allowed(user)`) to guard their views and show their buttons,
so the rule can never differ between them.
"""

import inspect
from functools import wraps

from django.core.exceptions import PermissionDenied

from .roles import ROLE_NAMES, has_role


class _System:
    """The product acting on its own (a schedule, a recovery policy): no person, every role."""

    is_authenticated = False

    def __repr__(self):
        return "SYSTEM"


SYSTEM = _System()


class ActionDenied(PermissionDenied):
    """The user's role does not allow the action (the console's 403, the API's 403)."""


def allowed(user, role):
    return user is SYSTEM or has_role(user, role)


def require_role(user, role, what="this"):
    if not allowed(user, role):
        raise ActionDenied(f"{what[:1].upper()}{what[1:]} needs the {ROLE_NAMES[role]} role.")


def action(role, what=None):
    """Declare `fn` an action needing `role`: the `user` it is called with (by keyword or in
    its place) must have it; None is nobody, the product itself passes SYSTEM."""

    def decorate(fn):
        label = what or fn.__name__.replace("_", " ")
        signature = inspect.signature(fn)
        if "user" not in signature.parameters:
            raise TypeError(f"{fn.__qualname__}: an action takes the acting user as `user`")

        @wraps(fn)
        def checked(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            require_role(bound.arguments["user"], role, label)
            return fn(*args, **kwargs)

        checked.role = role
        checked.allowed = lambda user: allowed(user, role)
        return checked

    return decorate


def acting_user(user):
    """The user to record on a Job or a journal entry: None for SYSTEM."""
    return None if user is SYSTEM or user is None or not user.is_authenticated else user
