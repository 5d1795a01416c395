"""Role enforcement for console views (the API applies the same rules through
core.permissions.RolePermission).

Every console view needs at least the viewer role: a logged-in user without a role
gets the 403 page. Views that change something raise `required_role`; the check runs
for every method, so an edit page is refused to a viewer before it renders (GET) and
before it writes (POST).
"""

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied

from .roles import ROLE_NAMES, Role, has_role


class RoleRequiredMixin(AccessMixin):
    required_role = Role.VIEWER

    def get_required_role(self):
        return self.required_role

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()  # redirect to the login page
        needed = self.get_required_role()
        if not has_role(request.user, needed):
            raise PermissionDenied(f"This needs the {ROLE_NAMES[needed]} role.")
        return super().dispatch(request, *args, **kwargs)


class ViewerRequiredMixin(RoleRequiredMixin):
    required_role = Role.VIEWER


class OperatorRequiredMixin(RoleRequiredMixin):
    required_role = Role.OPERATOR


class AdminRequiredMixin(RoleRequiredMixin):
    required_role = Role.ADMIN


class ActionRequiredMixin(RoleRequiredMixin):
    """A page that performs one action (core.actions): the action's declared role guards it."""

    performs = None

    def get_required_role(self):
        return self.performs.role


class ReadOrWriteRoleMixin(RoleRequiredMixin):
    """A page anyone with a role may read, whose POST needs `write_role`
    (e.g. a detail page that also takes a small form)."""

    write_role = Role.OPERATOR

    def get_required_role(self):
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return self.required_role
        return self.write_role
