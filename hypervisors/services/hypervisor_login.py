"""How the console logs in to a hypervisor over SSH for a job (a disk copy, a disk read):
its SSH credential, else the private key stored on the hypervisor record."""

from urllib.parse import urlparse

from django.core.exceptions import ObjectDoesNotExist

from access.addresses import ssh_address
from access.services.credentials import CredentialBook
from access.services.logins import LoginRefused, SSHLogin, host_login

from ..models import Hypervisor


class DiskCopyRefused(Exception):
    """Nothing was copied: the message says what is missing."""


def uri_address(host):
    """The machine a hypervisor's libvirt URI names: where SSH reaches a hypervisor the
    inventory has no address for (registered with access.addresses)."""
    try:
        return urlparse(host.hypervisor.uri).hostname
    except (ObjectDoesNotExist, ValueError):
        return None


def ssh_login(hypervisor: Hypervisor, book=None) -> SSHLogin:
    """How to log in to a hypervisor (access.services.logins.host_login): the SSH credential
    for its host (own > role > default), else the private key stored on the hypervisor (as
    the user its URI names, root by default); the host keys an admin trusted for the address
    it is reached at. Refuses (DiskCopyRefused), saying what to do, when either is missing."""
    host = hypervisor.host
    book = book or CredentialBook()
    if ssh_address(host) and not hypervisor.credentials and book.for_host(host) is None:
        raise DiskCopyRefused(
            f"no SSH credential for {hypervisor.name}: add one on the health page or store a private key "
            "on the hypervisor"
        )
    try:
        return host_login(host, book, fallback_key=hypervisor.credentials,
                          fallback_username=urlparse(hypervisor.uri).username or "root")
    except (LoginRefused, ValueError) as exc:
        raise DiskCopyRefused(str(exc)) from exc


