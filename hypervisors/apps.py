from django.apps import AppConfig


class HypervisorsConfig(AppConfig):
    name = "hypervisors"
    verbose_name = "Hypervisors"

    def ready(self):
        from access.addresses import register_fallback

        from . import changelog  # noqa: F401  registers models with the change log
        from .services.hypervisor_login import uri_address

        # A hypervisor the inventory has no address for is reached at its URI's host.
        register_fallback(uri_address)
