from .roles import Role, role_of


def console(request):
    role = role_of(getattr(request, "user", None))
    return {
        "user_role": role,
        "can_operate": role is not None and role >= Role.OPERATOR,
        "can_admin": role is not None and role >= Role.ADMIN,
    }
