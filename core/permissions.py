"""Role enforcement for the API (the console uses the same rules through core.mixins).

Reading needs the viewer role. Writing and deleting need what the view's model declares
(core.roles.model_role: operator and admin by default). A view that is not about one
model's objects, or an action, says it with `read_role` / `write_role` / `delete_role`;
an action started through a service (core.actions) passes `fn.role`.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from .roles import has_role, model_role

OPERATIONS = {"read_role": "view", "write_role": "change", "delete_role": "delete"}


def required_role(view, method):
    attribute = "read_role" if method in SAFE_METHODS else "delete_role" if method == "DELETE" else "write_role"
    declared = getattr(view, attribute, None)
    if declared is not None:
        return declared
    queryset = getattr(view, "queryset", None)
    model = queryset.model if queryset is not None else None
    return model_role(model, OPERATIONS[attribute])


class RolePermission(BasePermission):
    message = "Your role does not allow this."

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        return has_role(request.user, required_role(view, request.method))
