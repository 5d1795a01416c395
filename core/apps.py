from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core: jobs, roles, secrets"

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import audit  # noqa: F401  connects the change-log actor stamp
        from .schedules import ensure_default_schedules

        post_migrate.connect(ensure_default_schedules, sender=self, dispatch_uid="core-default-schedules")
