"""Which migration models the change log records (django-auditlog): what people plan.
Runs and their steps are history of their own (the run page, the job log), not changes."""

from auditlog.registry import auditlog

from .models import Dependency, MigrationPlan, PlannedWorkload, Wave

auditlog.register(MigrationPlan, exclude_fields=["updated_at"])
auditlog.register(Wave)
# The source DSN is recorded when it changes, its password masked (source_dsn.masked).
auditlog.register(PlannedWorkload, mask_fields=["source_dsn"], mask_callable="migrations_tool.source_dsn.masked")
auditlog.register(Dependency)
