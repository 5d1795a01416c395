"""Which cloud models the change log records (django-auditlog), and how."""

from auditlog.registry import auditlog

from .models import CloudAccount, OnPremCostModel, SizingPolicy, UtilisationRecord

# The secret never enters the log, not even masked; connection checks are not changes.
auditlog.register(CloudAccount, exclude_fields=["secret_access_key", "last_checked_at", "last_check_ok",
                                                "last_check_message", "aws_account_id"])
auditlog.register(SizingPolicy)
auditlog.register(OnPremCostModel)
auditlog.register(UtilisationRecord)
