"""A host key is trusted for the address its host is reached at (its trust ends when the
address changes). Keys trusted before get the address the inventory gives their host
now (management address, else first interface address); a key of a host the inventory
has no address for stays without one, and its trust ends the first time something
reaches the host elsewhere (the host's journal says so): an admin trusts it again."""

from django.db import migrations, models


def inventory_address(host):
    if host.mgmt_address:
        return str(host.mgmt_address)
    interface = host.interfaces.exclude(ip_address=None).order_by("name").first()
    return str(interface.ip_address) if interface else ""


def bind_trusted_keys(apps, schema_editor):
    HostKey = apps.get_model("access", "HostKey")
    keys = HostKey.objects.using(schema_editor.connection.alias).filter(trusted_at__isnull=False).select_related("host")
    for key in keys:
        key.trusted_address = inventory_address(key.host)
        key.save(update_fields=["trusted_address"])


class Migration(migrations.Migration):

    dependencies = [("access", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="hostkey",
            name="trusted_address",
            field=models.CharField(blank=True, help_text="The address the host was reached at when the key was trusted; the trust ends when that address changes", max_length=253),
        ),
        migrations.RunPython(bind_trusted_keys, migrations.RunPython.noop),
    ]
