from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core: jobs, roles, secrets"

    def ready(self):
        from django.db.models.signals import post_migrate
        from django.urls import register_converter

        from . import audit  # noqa: F401  connects the change-log actor stamp
        from .converters import IdConverter
        from .schedules import ensure_default_schedules

        register_converter(IdConverter, "id")  # before any URLconf is loaded
        post_migrate.connect(ensure_default_schedules, sender=self, dispatch_uid="core-default-schedules")
