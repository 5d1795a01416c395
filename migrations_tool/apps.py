from django.apps import AppConfig


class MigrationsToolConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "migrations_tool"
    verbose_name = "Migrations"
