"""Rules of SSH credential assignment: a host or a role names at most one credential, and
one credential at most is the default."""

from ..models import SSHCredential


def assignment_conflicts(credential, roles=None, hosts=None, is_default=None):
    """Field errors ({field: [messages]}) for assigning `roles`/`hosts`/`is_default` to
    `credential` (None for a new one); {} when there is no conflict."""
    others = SSHCredential.objects.all()
    if credential is not None and credential.pk:
        others = others.exclude(pk=credential.pk)
    errors = {}
    if roles:
        taken = others.filter(roles__in=roles).values_list("name", "roles__name").distinct()
        if taken:
            errors["roles"] = [f"Role {role} already uses credential {name}." for name, role in taken]
    if hosts:
        taken = others.filter(hosts__in=hosts).values_list("name", "hosts__hostname").distinct()
        if taken:
            errors["hosts"] = [f"Host {host} already uses credential {name}." for name, host in taken]
    if is_default:
        default = others.filter(is_default=True).first()
        if default:
            errors["is_default"] = [f"{default.name} is the default credential already; unset it first."]
    return errors
