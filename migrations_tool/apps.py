from django.apps import AppConfig


class MigrationsToolConfig(AppConfig):
    name = "migrations_tool"
    verbose_name = "Migrations"
