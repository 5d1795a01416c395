from django.apps import AppConfig


class HypervisorsConfig(AppConfig):
    name = "hypervisors"
    verbose_name = "Hypervisors"

    def ready(self):
        from . import changelog  # noqa: F401  registers models with the change log
