from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = "Access: SSH credentials and host keys"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from inventory.models import Host, Interface

        from . import changelog  # noqa: F401  registers models with the change log
        from .signals import host_changed, interface_changed

        # A host's address changes on its own save or on an interface's (the first interface
        # address stands in for a missing management address): its trusted keys may end there.
        post_save.connect(host_changed, sender=Host, dispatch_uid="access-host-address")
        post_save.connect(interface_changed, sender=Interface, dispatch_uid="access-interface-address")
        post_delete.connect(interface_changed, sender=Interface, dispatch_uid="access-interface-address-gone")
