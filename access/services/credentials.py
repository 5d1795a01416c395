"""SSH credentials: which one a host logs in with (the CredentialBook) and the rules of
assigning them (a host or a role names at most one credential, and one credential at
most is the default)."""

from ..drivers import ssh as ssh_driver
from ..models import SSHCredential


class CredentialBook:
    """The SSH credential of each host (own > role > default), private keys parsed once."""

    def __init__(self):
        self.credentials = {c.pk: c for c in SSHCredential.objects.all()}
        self.by_host, self.by_role = {}, {}
        # Alphabetical: when two credentials name the same host or role, the first wins.
        names = sorted(self.credentials.values(), key=lambda c: c.name)
        order = {c.pk: index for index, c in enumerate(names)}
        links = SSHCredential.hosts.through.objects.values_list("sshcredential_id", "host_id")
        for credential_id, host_id in sorted(links, key=lambda link: order[link[0]]):
            self.by_host.setdefault(host_id, self.credentials[credential_id])
        links = SSHCredential.roles.through.objects.values_list("sshcredential_id", "role_id")
        for credential_id, role_id in sorted(links, key=lambda link: order[link[0]]):
            self.by_role.setdefault(role_id, self.credentials[credential_id])
        self.default = next((c for c in names if c.is_default), None)
        self._keys = {}

    def for_host(self, host):
        return self.by_host.get(host.pk) or self.by_role.get(host.role_id) or self.default

    def private_key(self, credential):
        """(paramiko key, None) or (None, why it cannot be read)."""
        if credential.pk not in self._keys:
            try:
                self._keys[credential.pk] = (ssh_driver.load_private_key(credential.private_key, credential.passphrase), None)
            except ssh_driver.BadPrivateKey as exc:
                self._keys[credential.pk] = (None, f"credential {credential.name}: {exc}")
        return self._keys[credential.pk]


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
