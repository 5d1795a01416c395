"""Which inventory models the change log records (django-auditlog), and how."""

from auditlog.registry import auditlog

from .models import Host, Interface, JournalEntry, NamingScheme, Rack, Role, Site, Tag

auditlog.register(Site)
auditlog.register(Rack)
auditlog.register(NamingScheme)
auditlog.register(Role)
auditlog.register(Tag)
# The BMC password never enters the log, not even masked.
auditlog.register(Host, m2m_fields={"tags"}, exclude_fields=["bmc_password"])
auditlog.register(Interface)
auditlog.register(JournalEntry)
