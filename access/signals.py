"""Receivers that end a host key's trust as soon as its host's address changes (the
places that connect over SSH check again before they do: trust.trusted_keys)."""

from inventory.models import Host

from .services.trust import revoke_if_moved


def host_changed(sender, instance, created, raw=False, update_fields=None, **kwargs):
    if created or raw:
        return  # a new host has no keys yet; fixtures load rows as they are
    if update_fields is not None and "mgmt_address" not in update_fields:
        return
    revoke_if_moved(instance)


def interface_changed(sender, instance, raw=False, **kwargs):
    if raw:
        return
    host = Host.objects.filter(pk=instance.host_id).first()  # gone when the host's deletion cascades here
    if host is not None and not host.mgmt_address:
        revoke_if_moved(host)
