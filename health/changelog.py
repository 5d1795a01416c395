"""Which health models the change log records (django-auditlog): the configuration
people edit. Results, statuses and alerts are data, not changes."""

from auditlog.registry import auditlog

from .models import AlertTarget, CheckSchedule, FenceDevice, PortCheck, SiteRecoveryPolicy

auditlog.register(CheckSchedule)
auditlog.register(PortCheck)
# A webhook URL carries a token: logged as scheme://host/… only; the signing secret never.
auditlog.register(AlertTarget, mask_fields=["address"], mask_callable="health.webhooks.mask_address",
                  exclude_fields=["signing_secret"])
auditlog.register(FenceDevice, exclude_fields=["password"])  # the IPMI password never enters the log
auditlog.register(SiteRecoveryPolicy)
