"""Hypervisors API representations.

Same conventions as the inventory API: objects with a slug (role, tags, site) are
referred to by slug, others (host, hypervisor, inventory host) by id. What libvirt
reports about a VM is read-only here (the sync writes it); what we know and libvirt
does not (HA, anti-affinity, role, inventory link, tags, owner) is ours to change.
Hypervisor credentials are write-only: no response ever contains them.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from core.api.accepted import JobAcceptedSerializer
from core.api.serializers import CleanModelSerializer
from inventory.models import Host, Role, Tag

from ..models import Hypervisor, VirtualMachine
from ..placement import PACK, SPREAD
from ..services import capacity
from ..services.actions import POWER_ACTIONS

POLICIES = [SPREAD, PACK]
MAX_VCPUS = 1024
MAX_MEMORY_MIB = 16 * 1024 * 1024  # 16 TiB


class UsageSerializer(serializers.Serializer):
    """Allocated against capacity (physical resources × overcommit ratio)."""

    vcpus = serializers.IntegerField(source="hypervisor.vcpu_capacity", help_text="vCPU capacity under overcommit")
    vcpus_used = serializers.IntegerField()
    vcpu_percent = serializers.IntegerField()
    memory_mib = serializers.IntegerField(source="hypervisor.memory_capacity_mib",
                                          help_text="Memory capacity under overcommit")
    memory_used_mib = serializers.IntegerField()
    memory_percent = serializers.IntegerField()
    vm_count = serializers.IntegerField(help_text="VMs allocated here (stale 'gone' ones excluded)")


class HypervisorSerializer(CleanModelSerializer):
    name = serializers.CharField(source="host.hostname", read_only=True)
    host = serializers.PrimaryKeyRelatedField(
        queryset=Host.objects.all(), help_text="The inventory host (id)",
        validators=[UniqueValidator(Hypervisor.objects.all(), message="This host is already a hypervisor.")],
    )
    host_status = serializers.CharField(source="host.status", read_only=True)
    site = serializers.CharField(source="host.site.slug", read_only=True)
    credentials = serializers.CharField(
        write_only=True, required=False, allow_blank=True, trim_whitespace=False, max_length=20000,
        style={"input_type": "password"},
        help_text="SSH private key or TLS material; stored encrypted and never returned; an empty string clears it",
    )
    credentials_set = serializers.SerializerMethodField(help_text="Whether credentials are stored")
    usage = serializers.SerializerMethodField()

    class Meta:
        model = Hypervisor
        fields = [
            "id", "name", "host", "host_status", "site", "uri", "credentials", "credentials_set",
            "cpu_overcommit", "memory_overcommit", "shared_storage", "shared_storage_path", "enabled", "connection", "last_seen",
            "last_error", "libvirt_hostname", "cpus", "memory_mib", "libvirt_version", "usage",
        ]
        read_only_fields = ["connection", "last_seen", "last_error", "libvirt_hostname", "cpus", "memory_mib",
                            "libvirt_version"]

    @extend_schema_field(serializers.BooleanField())
    def get_credentials_set(self, hypervisor):
        return bool(hypervisor.credentials)

    @extend_schema_field(UsageSerializer)
    def get_usage(self, hypervisor):
        if not hasattr(hypervisor, "vm_count"):  # just written: not read through the annotated list
            hypervisor = capacity.with_usage(Hypervisor.objects.filter(pk=hypervisor.pk)).get()
        return UsageSerializer(capacity.usage_of(hypervisor)).data


class VirtualMachineSerializer(CleanModelSerializer):
    hypervisor_name = serializers.CharField(source="hypervisor.host.hostname", read_only=True, allow_null=True)
    stale = serializers.BooleanField(
        source="is_stale", read_only=True,
        help_text="libvirt no longer reports it, or its hypervisor is unreachable: shown as last seen",
    )
    role = serializers.SlugRelatedField(slug_field="slug", queryset=Role.objects.all(), allow_null=True,
                                        required=False)
    tags = serializers.SlugRelatedField(slug_field="slug", queryset=Tag.objects.all(), many=True, required=False)
    inventory_host = serializers.PrimaryKeyRelatedField(
        queryset=Host.objects.all(), allow_null=True, required=False, help_text="The inventory host this VM is (id)",
        validators=[UniqueValidator(VirtualMachine.objects.all(), message="This host is already another VM.")],
    )
    inventory_hostname = serializers.CharField(source="inventory_host.hostname", read_only=True, allow_null=True)

    class Meta:
        model = VirtualMachine
        fields = [
            "id", "uuid", "name", "hypervisor", "hypervisor_name", "state", "stale", "vcpus", "memory_mib", "disks",
            "nics", "autostart", "persistent", "last_seen", "state_changed_at", "busy_job",
            "ha_enabled", "anti_affinity_group", "role", "inventory_host", "inventory_hostname", "tags", "owner",
            "cloud_instance_id",
        ]
        read_only_fields = ["uuid", "name", "hypervisor", "state", "vcpus", "memory_mib", "disks", "nics", "autostart",
                            "persistent", "last_seen", "state_changed_at", "busy_job", "cloud_instance_id"]

    def to_internal_value(self, data):
        """Refuse, rather than silently drop, a change to what libvirt owns (a GET sent
        back unchanged is fine)."""
        if isinstance(data, dict) and self.instance is not None:
            current = self.to_representation(self.instance)
            changed = sorted(name for name, field in self.fields.items()
                             if field.read_only and name in data and data[name] != current.get(name))
            if changed:
                raise serializers.ValidationError({
                    name: [f"Read-only: {name} comes from libvirt or the sync; use the VM actions to change it."]
                    for name in changed
                })
        return super().to_internal_value(data)


# ----- action inputs -----------------------------------------------------------------
class PowerSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=POWER_ACTIONS)
    timeout = serializers.IntegerField(
        min_value=1, max_value=3600, default=120,
        help_text="shutdown: seconds to wait for the guest before forcing it off (stated in the job log)",
    )


class MigrateSerializer(serializers.Serializer):
    target = serializers.PrimaryKeyRelatedField(
        queryset=Hypervisor.objects.select_related("host"), allow_null=True, default=None,
        help_text="Hypervisor id; omitted: the placement planner chooses",
    )
    live = serializers.BooleanField(required=False, allow_null=True, default=None,
                                    help_text="Omitted: live for a running VM, cold for a shut-off one")
    auto_converge = serializers.BooleanField(default=False)
    bandwidth_mib_s = serializers.IntegerField(min_value=0, max_value=1_000_000, default=0, help_text="0: unlimited")
    time_limit_s = serializers.IntegerField(min_value=10, max_value=86400, default=600,
                                            help_text="Abort the migration after this long (it stays on its source)")
    policy = serializers.ChoiceField(choices=POLICIES, default=SPREAD, help_text="How the planner chooses a target")


class ResizeSerializer(serializers.Serializer):
    vcpus = serializers.IntegerField(min_value=1, max_value=MAX_VCPUS)
    memory_mib = serializers.IntegerField(min_value=16, max_value=MAX_MEMORY_MIB)


class DeleteSerializer(serializers.Serializer):
    confirm = serializers.CharField(help_text="The VM's name, to confirm")
    delete_disks = serializers.BooleanField(default=False)


class ForgetSerializer(serializers.Serializer):
    confirm = serializers.CharField(help_text="The VM's name: forgetting a record is final")


class ForgottenSerializer(serializers.Serializer):
    forgotten = serializers.CharField(help_text="Name of the VM whose record was removed")
    id = serializers.IntegerField()


class CreateVMSerializer(serializers.Serializer):
    hypervisor = serializers.PrimaryKeyRelatedField(queryset=Hypervisor.objects.select_related("host"))
    role = serializers.SlugRelatedField(slug_field="slug", queryset=Role.objects.select_related("naming_scheme"),
                                        required=False, allow_null=True)
    name = serializers.CharField(required=False, allow_blank=True, max_length=63,
                                 help_text="Omitted: the next free name of the role's naming scheme")
    vcpus = serializers.IntegerField(min_value=1, max_value=MAX_VCPUS)
    memory_mib = serializers.IntegerField(min_value=16, max_value=MAX_MEMORY_MIB)
    disk_gib = serializers.IntegerField(min_value=0, max_value=65536, default=0)
    storage_dir = serializers.CharField(required=False, allow_blank=True, max_length=400,
                                        help_text="Directory on the hypervisor for the disk (with disk_gib): its shared storage "
                                        "or one of the installation's VM storage directories")
    start = serializers.BooleanField(default=True)



class MaintenanceSerializer(serializers.Serializer):
    parallel = serializers.IntegerField(min_value=1, max_value=16, default=2, help_text="Migrations at a time")
    policy = serializers.ChoiceField(choices=POLICIES, default=SPREAD)


class PolicyQuerySerializer(serializers.Serializer):
    policy = serializers.ChoiceField(choices=POLICIES, default=SPREAD)


# ----- action outputs ----------------------------------------------------------------
class MigrationAcceptedSerializer(JobAcceptedSerializer):
    target = serializers.IntegerField(help_text="The hypervisor it moves to")
    target_name = serializers.CharField()
    live = serializers.BooleanField()


class MaintenanceAcceptedSerializer(JobAcceptedSerializer):
    """The evacuation job, and how many VMs it live-migrates away (the plan it was checked with)."""

    moves = serializers.IntegerField(min_value=0, help_text="How many running VMs the evacuation live-migrates away")


class CreateAcceptedSerializer(JobAcceptedSerializer):
    name = serializers.CharField(help_text="The name the new VM gets")


class PlannedMoveSerializer(serializers.Serializer):
    vm_id = serializers.IntegerField()
    vm = serializers.CharField()
    target_id = serializers.IntegerField()
    target = serializers.CharField()


class UnplacedSerializer(serializers.Serializer):
    vm_id = serializers.IntegerField()
    vm = serializers.CharField()
    reason = serializers.CharField()


class EvacuationPlanSerializer(serializers.Serializer):
    moves = PlannedMoveSerializer(many=True)
    unplaced = UnplacedSerializer(many=True, help_text="VMs no candidate can take, and why")


class SiteCapacitySerializer(serializers.Serializer):
    site = serializers.CharField()
    hypervisors = serializers.IntegerField()
    vcpus = serializers.IntegerField(help_text="vCPU capacity under overcommit")
    vcpus_used = serializers.IntegerField()
    vcpu_percent = serializers.IntegerField()
    memory_mib = serializers.IntegerField(help_text="Memory capacity under overcommit")
    memory_used_mib = serializers.IntegerField()
    memory_percent = serializers.IntegerField()
