"""The three console roles. A user's role is the highest group they belong to;
superusers are admins. A user in no role group sees nothing."""

from enum import IntEnum


class Role(IntEnum):
    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def group_name(self):
        return self.name.lower()


ROLE_NAMES = {role: role.group_name for role in Role}


def role_of(user):
    """Return the user's Role, or None. Cached on the user object for the request."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if not hasattr(user, "_console_role"):
        if user.is_superuser:
            user._console_role = Role.ADMIN
        else:
            names = {group.name for group in user.groups.all()}
            granted = [role for role in Role if role.group_name in names]
            user._console_role = max(granted) if granted else None
    return user._console_role


def has_role(user, needed):
    role = role_of(user)
    return role is not None and role >= needed


# Who may read, add or change, and delete objects of a model, unless the model says otherwise
# with a `required_roles` class attribute, e.g. `required_roles = {"delete": Role.OPERATOR}`.
# The console's generic views and the API's RolePermission both read it: declared once.
DEFAULT_MODEL_ROLES = {"view": Role.VIEWER, "change": Role.OPERATOR, "delete": Role.ADMIN}


def model_role(model, operation):
    """The role needed to `operation` ("view", "change" or "delete") objects of `model`."""
    return {**DEFAULT_MODEL_ROLES, **getattr(model, "required_roles", {})}[operation]


def may(user, model, operation):
    """Whether `user` may `operation` ("view", "change", "delete") objects of `model`."""
    return has_role(user, model_role(model, operation))
