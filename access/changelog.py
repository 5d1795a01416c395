"""Which access models the change log records (django-auditlog)."""

from auditlog.registry import auditlog

from .models import HostKey, SSHCredential

# The private key and its passphrase never enter the log, not even masked.
auditlog.register(SSHCredential, exclude_fields=["private_key", "passphrase"], m2m_fields={"roles", "hosts"})
auditlog.register(HostKey, exclude_fields=["last_seen"])
