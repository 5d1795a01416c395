from django.apps import AppConfig


class CloudConfig(AppConfig):
    name = "cloud"
    verbose_name = "Cloud"

    def ready(self):
        from . import changelog  # noqa: F401  registers models with the change log
