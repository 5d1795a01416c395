"""Role enforcement for the API (the console uses the same rules through core.views mixins).

Reading needs the viewer role. Writing needs `write_role` of the view (operator by
default) and deleting needs `delete_role` (admin by default). A view may widen or
narrow these with class attributes.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from .roles import Role, has_role


def required_role(view, method):
    if method in SAFE_METHODS:
        return getattr(view, "read_role", Role.VIEWER)
    if method == "DELETE":
        return getattr(view, "delete_role", Role.ADMIN)
    return getattr(view, "write_role", Role.OPERATOR)


class RolePermission(BasePermission):
    message = "Your role does not allow this."

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        return has_role(request.user, required_role(view, request.method))
