from auditlog.registry import auditlog

from .models import Hypervisor, VirtualMachine

auditlog.register(Hypervisor, exclude_fields=["credentials", "last_seen", "connection", "last_error"])
auditlog.register(VirtualMachine, m2m_fields={"tags"}, exclude_fields=["last_seen", "busy_job"])
