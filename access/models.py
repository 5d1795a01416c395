"""Access: how the console logs in to hosts over SSH (credentials) and which host keys it
believes (trusted keys, each for the address it was trusted at).

The tables were health's (health_sshcredential, health_hostkey and the credential's
role and host links) and keep their names: health, hypervisors and migrations all log
in to hosts, so the models live here, below all of them."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from core.crypto import EncryptedTextField
from core.roles import Role as ConsoleRole
from inventory.models import Host, Role

# Which logins the console uses and which machines it believes: viewers read it, admins change it.
ADMINS_ONLY = {"change": ConsoleRole.ADMIN, "delete": ConsoleRole.ADMIN}


class SSHCredential(models.Model):
    """A login the SSH checks use: the default one, or one for some roles or hosts
    (a host's own credential wins over its role's, which wins over the default)."""

    required_roles = ADMINS_ONLY

    name = models.CharField(max_length=100, unique=True)
    username = models.CharField(max_length=64, default="root")
    port = models.PositiveIntegerField(default=22, validators=[MinValueValidator(1), MaxValueValidator(65535)],
                                       help_text="SSH port of the hosts this credential is used for")
    private_key = EncryptedTextField(help_text="OpenSSH or PEM private key; stored encrypted, never shown again")
    passphrase = EncryptedTextField(blank=True, help_text="Of the private key, if it has one; stored encrypted")
    is_default = models.BooleanField(default=False, help_text="Used for hosts no other credential names")
    roles = models.ManyToManyField(Role, blank=True, related_name="ssh_credentials")
    hosts = models.ManyToManyField(Host, blank=True, related_name="ssh_credentials")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "health_sshcredential"
        ordering = ["name"]
        verbose_name = "SSH credential"
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_ssh_credential")
        ]

    def __str__(self):
        return self.name


class HostKey(models.Model):
    """An SSH host key a host offered. Trusted once an admin compared its fingerprint, for
    the address the host was reached at then; until then (or once that address changed)
    it is pending and nothing logs in to the host with it."""

    required_roles = ADMINS_ONLY

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="ssh_host_keys")
    key_type = models.CharField(max_length=64)
    key = models.TextField(help_text="The public key, base64 as in known_hosts")
    fingerprint = models.CharField(max_length=100, help_text="SHA256:… as ssh-keygen -l prints it")
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    replaces = models.CharField(max_length=100, blank=True,
                                help_text="Fingerprint of the trusted key this one would replace (a changed host key)")
    trusted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    trusted_at = models.DateTimeField(null=True, blank=True)
    trusted_address = models.CharField(max_length=253, blank=True,
                                       help_text="The address the host was reached at when the key was trusted; "
                                                 "the trust ends when that address changes")

    class Meta:
        db_table = "health_hostkey"
        ordering = ["host__hostname", "-first_seen"]
        verbose_name = "SSH host key"
        constraints = [models.UniqueConstraint(fields=["host", "key_type", "key"], name="host_key_unique")]

    def __str__(self):
        return f"{self.host.hostname} {self.key_type} {self.fingerprint}"

    @property
    def trusted(self):
        return self.trusted_at is not None
