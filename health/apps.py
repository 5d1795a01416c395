from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = "Health: checks, detection, alerts"

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import changelog  # noqa: F401  registers models with the change log
        from .services.recovery import handle_host_failed
        from .services.schedules import ensure_default_check_schedules
        from .signals import host_failed

        host_failed.connect(handle_host_failed, dispatch_uid="health-recovery")

        post_migrate.connect(ensure_default_check_schedules, sender=self, dispatch_uid="health-default-check-schedules")
