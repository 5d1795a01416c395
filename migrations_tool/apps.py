from django.apps import AppConfig


class MigrationsToolConfig(AppConfig):
    name = "migrations_tool"
    verbose_name = "Migrations"

    def ready(self):
        from . import changelog  # noqa: F401  registers models with the change log
