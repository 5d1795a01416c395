"""Inventory API representations.

Convention for related objects, the same for reading and writing (so what a GET
returns can be PUT back): an object that has a slug is referred to by its slug
(host.role, host.site, host.tags, rack.site), any other by its id (host.rack,
role.naming_scheme, interface.host, journal.host). Read-only *_name / hostname fields
add a display name where an id alone says little. Interfaces are written nested in
their host. host.bmc_password is write-only: no response ever contains it.
"""

from collections import Counter

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import CleanModelSerializer, SlugRelatedField
from inventory import services
from inventory.models import Host, Interface, JournalEntry, NamingScheme, Rack, Role, Site, Tag

AUTOMATIC_JOURNAL_KINDS = {JournalEntry.Kind.STATUS, JournalEntry.Kind.SYSTEM}


class SiteSerializer(CleanModelSerializer):
    """A datacenter or server room."""

    class Meta:
        model = Site
        fields = ["id", "name", "slug", "description", "address", "created_at", "updated_at"]


class RackSerializer(CleanModelSerializer):
    """A rack at a site (site given by slug)."""

    site = SlugRelatedField(slug_field="slug", queryset=Site.objects.all())

    class Meta:
        model = Rack
        fields = ["id", "site", "name", "u_height", "description", "created_at", "updated_at"]


class NamingSchemeSerializer(CleanModelSerializer):
    """A themed pool of host names (solar bodies, comic characters...)."""

    names = serializers.ListField(
        child=serializers.CharField(max_length=63), help_text="The pool, in the order names are handed out"
    )

    class Meta:
        model = NamingScheme
        fields = ["id", "name", "description", "names"]


class RoleSerializer(CleanModelSerializer):
    """What a host does; its naming scheme (by id) hands out host names."""

    class Meta:
        model = Role
        fields = ["id", "name", "slug", "description", "naming_scheme", "strict_naming"]


class NextNameSerializer(serializers.Serializer):
    """The name the next host of a role should take."""

    role = serializers.SlugField()
    naming_scheme = serializers.CharField(allow_null=True)
    name = serializers.CharField(allow_null=True, help_text="The next free name of the pool; null when none is left")


class TagSerializer(CleanModelSerializer):
    """A free label for hosts."""

    class Meta:
        model = Tag
        fields = ["id", "name", "slug", "color"]


class InterfaceInputMixin:
    # Accept MAC addresses in any case (they are stored, and validated, in lower case);
    # a blank IP address means none.

    def to_internal_value(self, data):
        if isinstance(data, dict) and isinstance(data.get("mac_address"), str):
            data = {**data, "mac_address": data["mac_address"].lower()}
        return super().to_internal_value(data)

    def validate_ip_address(self, value):
        return value or None


class InterfaceSerializer(InterfaceInputMixin, CleanModelSerializer):
    """A network interface of a host (host given by id)."""

    class Meta:
        model = Interface
        fields = ["id", "host", "name", "mac_address", "ip_address"]


class HostInterfaceSerializer(InterfaceInputMixin, serializers.ModelSerializer):
    """An interface written nested in its host."""

    class Meta:
        model = Interface
        fields = ["id", "name", "mac_address", "ip_address"]


class DiskSerializer(serializers.Serializer):
    """One disk of a host."""

    name = serializers.CharField(max_length=32)
    size_gb = serializers.IntegerField(min_value=0, max_value=10**7, default=0)
    kind = serializers.CharField(max_length=16, required=False, allow_blank=True, help_text="ssd, hdd, nvme...")


class DiskListField(serializers.ListField):
    child = DiskSerializer()

    def to_internal_value(self, data):
        return [dict(disk) for disk in super().to_internal_value(data)]

    def to_representation(self, value):
        return list(value or [])


class HostSerializer(CleanModelSerializer):
    """A physical host. Role, site and tags by slug, rack by id; interfaces nested;
    bmc_password write-only. A status change must follow the lifecycle and is journaled."""

    role = SlugRelatedField(
        slug_field="slug", queryset=Role.objects.all(), allow_null=True, required=False
    )
    site = SlugRelatedField(slug_field="slug", queryset=Site.objects.all())
    rack_name = serializers.CharField(source="rack.name", read_only=True, allow_null=True)
    tags = SlugRelatedField(slug_field="slug", queryset=Tag.objects.all(), many=True, required=False)
    interfaces = HostInterfaceSerializer(
        many=True, required=False, help_text="When given, replaces the host's interfaces (matched by name)"
    )
    disks = DiskListField(required=False)
    bmc_password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, trim_whitespace=False, max_length=200,
        help_text="Stored encrypted and never returned; an empty string clears it",
    )
    bmc_password_set = serializers.SerializerMethodField(help_text="Whether a BMC password is stored")
    status_reason = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=200,
        help_text="Why the status changes; written to the host's journal",
    )

    class Meta:
        model = Host
        fields = [
            "id", "hostname", "status", "status_reason", "role", "site", "rack", "rack_name", "position",
            "u_height", "serial", "asset_tag", "vendor", "model", "cpu_sockets", "cpu_cores", "memory_mib",
            "disks", "mgmt_address", "bmc_address", "bmc_username", "bmc_password", "bmc_password_set",
            "owner", "tags", "interfaces", "notes", "cloud_instance_id", "created_at", "updated_at",
        ]
        read_only_fields = ["cloud_instance_id"]  # set by migration runs

    @extend_schema_field(serializers.BooleanField())
    def get_bmc_password_set(self, host):
        return bool(host.bmc_password)

    def validate_asset_tag(self, value):
        return value or None  # blank means "none", and must not clash with other blanks

    def validate_mgmt_address(self, value):
        return value or None

    def validate_interfaces(self, interfaces):
        twice = sorted(name for name, count in Counter(i["name"] for i in interfaces).items() if count > 1)
        if twice:
            raise serializers.ValidationError(f"Interface names must be unique; listed twice: {', '.join(twice)}.")
        return interfaces

    def create(self, validated_data):
        tags = validated_data.pop("tags", None)
        interfaces = validated_data.pop("interfaces", None)
        validated_data.pop("status_reason", None)
        host = Host.objects.create(**validated_data)
        if tags:
            host.tags.set(tags)
        if interfaces:
            replace_interfaces(host, interfaces)
        return host

    def update(self, host, validated_data):
        new_status = validated_data.pop("status", host.status)
        reason = validated_data.pop("status_reason", "")
        tags = validated_data.pop("tags", None)
        interfaces = validated_data.pop("interfaces", None)
        for field, value in validated_data.items():
            setattr(host, field, value)
        host.save()
        if tags is not None:
            host.tags.set(tags)
        if interfaces is not None:
            replace_interfaces(host, interfaces)
        if new_status != host.status:
            # The lifecycle service writes the journal entry; validate() already refused
            # transitions the lifecycle forbids (model clean()).
            host = services.change_status(host, new_status, user=self._user(), reason=reason)
        return host

    def _user(self):
        request = self.context.get("request")
        return request.user if request and request.user.is_authenticated else None


class RepairedSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="",
                                 help_text='What was repaired, e.g. "PSU replaced"; written to the journal')


class HostBulkUpdateItemSerializer(HostSerializer):
    """Documents one item of a bulk update (the OpenAPI schema only): any host fields,
    plus the id of the host to change."""

    id = serializers.IntegerField(min_value=1)

    def get_fields(self):
        fields = super().get_fields()
        for name, field in fields.items():
            if name != "id" and not field.read_only:
                field.required = False
        return fields


def replace_interfaces(host, interfaces):
    """Make the host's interfaces exactly `interfaces`: same name -> updated in place,
    new name -> created, missing name -> deleted. Each write is a change-log entry."""
    existing = {interface.name: interface for interface in host.interfaces.all()}
    wanted = {item["name"]: item for item in interfaces}
    for name, interface in existing.items():
        if name not in wanted:
            interface.delete()
    for name, item in wanted.items():
        interface = existing.get(name) or Interface(host=host, name=name)
        changed = [field for field, value in item.items() if getattr(interface, field) != value]
        if interface.pk is None or changed:
            for field in changed:
                setattr(interface, field, item[field])
            interface.save()


class JournalEntrySerializer(CleanModelSerializer):
    """An entry of a host's journal (host by id); the author is whoever posts it."""

    hostname = serializers.CharField(source="host.hostname", read_only=True)
    author = SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = JournalEntry
        fields = ["id", "host", "hostname", "kind", "text", "author", "created_at"]

    def validate_kind(self, kind):
        if kind in AUTOMATIC_JOURNAL_KINDS:
            raise serializers.ValidationError(f"'{kind}' entries are written by the system, not by hand.")
        return kind

    def create(self, validated_data):
        request = self.context.get("request")
        author = request.user if request and request.user.is_authenticated else None
        return super().create({**validated_data, "author": author})
