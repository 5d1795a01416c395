"""How the console logs in to a host over SSH for a job (a disk read, a copy): the
address it is reached at, the credential the CredentialBook gives it and the host keys
an admin trusted for that address. Refuses, saying what to do, when one is missing.

    login = host_login(host)                     # LoginRefused(sentence) when it cannot
    with OpenSSH(login) as ssh: ssh.run(["lsblk", "-J", "-b"])
"""

from dataclasses import dataclass

from ..addresses import ssh_address
from ..drivers.ssh import BadPrivateKey, load_private_key
from .credentials import CredentialBook
from .trust import trusted_keys


class LoginRefused(Exception):
    """Nothing was tried: the message says what is missing."""


@dataclass
class SSHLogin:
    name: str  # the host's name, for messages
    address: str
    port: int
    username: str
    pkey: object  # paramiko key (paramiko sessions)
    private_key: str  # the key's text (OpenSSH sessions)
    passphrase: str
    trusted_keys: list  # [(key type, base64)]


def host_login(host, book=None, *, fallback_key="", fallback_username="root") -> SSHLogin:
    """The login for `host`: its SSH credential (own > role > default), else fallback_key
    (a private key stored elsewhere, e.g. on its hypervisor record)."""
    book = book or CredentialBook()
    address = ssh_address(host)
    if not address:
        raise LoginRefused(f"{host} has no management address to reach it over SSH")
    credential = book.for_host(host)
    if credential is not None:
        pkey, error = book.private_key(credential)
        if error:
            raise LoginRefused(f"{host}: {error}")
        username, port, text, passphrase = credential.username, credential.port, credential.private_key, \
            credential.passphrase
    elif fallback_key:
        try:
            pkey = load_private_key(fallback_key)
        except BadPrivateKey as exc:
            raise LoginRefused(f"{host}'s stored private key: {exc}") from exc
        username, port, text, passphrase = fallback_username, 22, fallback_key, ""
    else:
        raise LoginRefused(f"no SSH credential for {host}: add one on the health page")
    trusted = trusted_keys([host]).get(host.pk)
    if not trusted:
        raise LoginRefused(f"{host} has no trusted SSH host key: trust it on the health page first")
    return SSHLogin(str(host), address, port, username, pkey, text, passphrase or "", trusted)
