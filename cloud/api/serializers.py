"""Cloud API representations. The secret access key is write-only: no response ever
contains it (secret_set says whether one is stored)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import CleanModelSerializer
from hypervisors.models import VirtualMachine
from inventory.models import Host, Role

from ..models import CloudAccount, DiskReplication, InstanceType, OnPremCostModel, SizingPolicy, UtilisationRecord
from ..services.sizing import ACTIONS

MAX_WORKLOADS = 10000
MONEY = {"max_digits": 14, "decimal_places": 2}


class CloudAccountSerializer(CleanModelSerializer):
    secret_access_key = serializers.CharField(
        write_only=True, required=False, allow_blank=True, trim_whitespace=False, max_length=2000,
        style={"input_type": "password"},
        help_text="Stored encrypted and never returned; omit to keep the stored one",
    )
    secret_set = serializers.SerializerMethodField(help_text="Whether a secret access key is stored")
    uses_real_aws = serializers.BooleanField(read_only=True, help_text="No endpoint URL: calls go to real AWS")
    instance_types = serializers.IntegerField(read_only=True, source="instance_type_count",
                                              help_text="Instance types of its region in the catalogue")

    class Meta:
        model = CloudAccount
        fields = [
            "id", "name", "region", "auth_mode", "access_key_id", "secret_access_key", "secret_set", "endpoint_url",
            "uses_real_aws", "default_vpc", "default_subnet", "default_security_group", "default_key_pair",
            "is_embedded", "instance_types", "last_checked_at", "last_check_ok", "last_check_message",
            "aws_account_id", "created_at", "updated_at",
        ]
        read_only_fields = ["last_checked_at", "last_check_ok", "last_check_message", "aws_account_id",
                            "created_at", "updated_at"]

    @extend_schema_field(serializers.BooleanField())
    def get_secret_set(self, account):
        return bool(account.secret_access_key)

    def to_representation(self, account):
        if not hasattr(account, "instance_type_count"):  # just written: not read through the annotated list
            account.instance_type_count = InstanceType.objects.filter(region=account.region).count()
        return super().to_representation(account)


class InstanceTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = InstanceType
        fields = ["id", "region", "name", "family", "generation", "vcpus", "memory_mib", "burstable", "bare_metal",
                  "architecture", "refreshed_at"]
        read_only_fields = fields


class OnPremCostModelSerializer(CleanModelSerializer):
    role = serializers.SlugRelatedField(slug_field="slug", queryset=Role.objects.all(), allow_null=True,
                                        required=False, help_text="Role slug; null: the default for its kind")
    monthly_total = serializers.DecimalField(read_only=True, **MONEY)

    class Meta:
        model = OnPremCostModel
        fields = ["id", "name", "kind", "role", "hardware_amortisation", "power", "rack", "licences",
                  "monthly_total", "notes"]
        validators = []  # one per kind and role: checked by the model's clean(), which says it in words


class SizingPolicySerializer(CleanModelSerializer):
    class Meta:
        model = SizingPolicy
        exclude = ["id", "name"]


class UtilisationRecordSerializer(CleanModelSerializer):
    host = serializers.PrimaryKeyRelatedField(queryset=Host.objects.all(), allow_null=True, required=False)
    vm = serializers.PrimaryKeyRelatedField(queryset=VirtualMachine.objects.all(), allow_null=True, required=False)
    workload = serializers.SerializerMethodField(help_text="Hostname or VM name")

    class Meta:
        model = UtilisationRecord
        fields = ["id", "host", "vm", "workload", "p95_cpu_percent", "p95_memory_percent", "max_cpu_percent", "days",
                  "source", "measured_at"]

    @extend_schema_field(serializers.CharField())
    def get_workload(self, record):
        return record.host.hostname if record.host_id else record.vm.name


# --- recommendations -------------------------------------------------------------------


class PolicyOverridesSerializer(serializers.Serializer):
    """Any of the sizing policy's values, for this request only."""

    cpu_headroom = serializers.DecimalField(max_digits=4, decimal_places=2, min_value=1, max_value=10, required=False)
    memory_headroom = serializers.DecimalField(max_digits=4, decimal_places=2, min_value=1, max_value=10,
                                               required=False)
    min_memory_mib = serializers.IntegerField(min_value=0, max_value=1024 * 1024, required=False)
    allow_previous_generation = serializers.BooleanField(required=False)
    allow_burstable = serializers.BooleanField(required=False)
    allow_bare_metal = serializers.BooleanField(required=False)
    architecture = serializers.ChoiceField(choices=SizingPolicy.Architecture.choices, required=False)
    retire_max_cpu_percent = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, max_value=100,
                                                      required=False)
    retire_min_days = serializers.IntegerField(min_value=0, max_value=3650, required=False)
    database_role = serializers.CharField(max_length=100, required=False, allow_blank=True)
    production_tag = serializers.CharField(max_length=64, required=False, allow_blank=True)
    default_db_engine = serializers.ChoiceField(choices=SizingPolicy.Engine.choices, required=False)


class RecommendationRequestSerializer(serializers.Serializer):
    hosts = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False,
                                  default=list, max_length=MAX_WORKLOADS, help_text="Inventory host ids")
    vms = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False,
                                default=list, max_length=MAX_WORKLOADS, help_text="VM ids")
    account = serializers.PrimaryKeyRelatedField(
        queryset=CloudAccount.objects.all(), required=False, allow_null=True,
        help_text="Size for this account: its region and, once loaded, its real instance type list",
    )
    region = serializers.RegexField(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$", required=False,
                                    allow_null=True, help_text="Without an account (default us-east-1)")
    policy = PolicyOverridesSerializer(required=False, help_text="Changes to the sizing policy for this request")

    def validate(self, attrs):
        if not attrs["hosts"] and not attrs["vms"]:
            raise serializers.ValidationError({"non_field_errors": ["Give at least one host or VM id."]})
        if len(attrs["hosts"]) + len(attrs["vms"]) > MAX_WORKLOADS:
            raise serializers.ValidationError({"non_field_errors": [f"At most {MAX_WORKLOADS} workloads a request."]})
        account, region = attrs.get("account"), attrs.get("region")
        if account is not None and region and region != account.region:
            raise serializers.ValidationError({"region": [f"The account is in {account.region}; leave region out."]})
        for field, model in (("hosts", Host), ("vms", VirtualMachine)):
            wanted = set(attrs[field])
            found = set(model.objects.filter(pk__in=wanted).values_list("pk", flat=True))
            if wanted - found:
                missing = ", ".join(str(pk) for pk in sorted(wanted - found)[:20])
                raise serializers.ValidationError({field: [f"No {model._meta.verbose_name} with id {missing}."]})
        return attrs


class CostSerializer(serializers.Serializer):
    onprem_monthly = serializers.DecimalField(allow_null=True, **MONEY)
    onprem_model = serializers.CharField(help_text="The on-premises cost model used")
    aws_compute_monthly = serializers.DecimalField(allow_null=True, **MONEY)
    aws_storage_monthly = serializers.DecimalField(allow_null=True, **MONEY)
    aws_monthly = serializers.DecimalField(allow_null=True, **MONEY)
    difference = serializers.DecimalField(allow_null=True, help_text="AWS minus on premises: negative saves", **MONEY)
    storage_gb = serializers.IntegerField()
    note = serializers.CharField()


class RecommendationSerializer(serializers.Serializer):
    kind = serializers.CharField(source="workload.kind", help_text="host or vm")
    id = serializers.IntegerField(source="workload.id")
    name = serializers.CharField(source="workload.name")
    role = serializers.CharField(source="workload.role_slug")
    vcpus = serializers.IntegerField(source="workload.vcpus")
    memory_mib = serializers.IntegerField(source="workload.memory_mib")
    action = serializers.ChoiceField(choices=ACTIONS)
    target = serializers.CharField(allow_null=True, help_text="EC2 instance type or RDS class")
    engine = serializers.CharField(allow_null=True)
    multi_az = serializers.BooleanField()
    basis = serializers.CharField(help_text="utilisation or allocation")
    reason = serializers.CharField()
    required_vcpus = serializers.IntegerField()
    required_memory_mib = serializers.IntegerField()
    target_vcpus = serializers.IntegerField(source="vcpus")
    target_memory_mib = serializers.IntegerField(source="memory_mib")
    hourly_price = serializers.DecimalField(source="hourly", allow_null=True, max_digits=12, decimal_places=5)
    cost = CostSerializer()


class PriceSourceSerializer(serializers.Serializer):
    region = serializers.CharField()
    currency = serializers.CharField()
    source = serializers.CharField()
    published = serializers.CharField()
    retrieved = serializers.CharField()


class TotalsSerializer(serializers.Serializer):
    onprem_monthly = serializers.DecimalField(**MONEY)
    aws_monthly = serializers.DecimalField(**MONEY)
    difference = serializers.DecimalField(**MONEY)
    compared = serializers.IntegerField(help_text="Workloads with both an on-premises and an AWS figure")
    not_compared = serializers.IntegerField()
    by_action = serializers.DictField(child=serializers.IntegerField())


class RecommendationResultSerializer(serializers.Serializer):
    region = serializers.CharField()
    account = serializers.IntegerField(source="account.pk", allow_null=True, default=None)
    catalogue_used = serializers.BooleanField(help_text="Sized against the account's real instance type list")
    prices = PriceSourceSerializer(source="prices.describe")
    policy = PolicyOverridesSerializer(source="policy.as_dict", help_text="The sizing policy used")
    totals = TotalsSerializer()
    results = RecommendationSerializer(source="recommendations", many=True)


# --- price table ---------------------------------------------------------------------------


class Ec2PriceSerializer(serializers.Serializer):
    name = serializers.CharField()
    family = serializers.CharField()
    hourly = serializers.DecimalField(max_digits=12, decimal_places=5)
    monthly = serializers.DecimalField(**MONEY)
    vcpus = serializers.IntegerField()
    memory_mib = serializers.IntegerField()
    current_generation = serializers.BooleanField()
    burstable = serializers.BooleanField()
    bare_metal = serializers.BooleanField()
    architecture = serializers.CharField()
    basis = serializers.CharField(help_text='"published", or how it was derived')


class RdsPriceSerializer(serializers.Serializer):
    engine = serializers.CharField()
    name = serializers.CharField()
    hourly = serializers.DecimalField(max_digits=12, decimal_places=5)
    monthly = serializers.DecimalField(**MONEY)
    current_generation = serializers.BooleanField()
    basis = serializers.CharField()


class PriceTableSerializer(PriceSourceSerializer):
    notes = serializers.ListField(child=serializers.CharField())
    ebs_gp3_gb_month = serializers.DecimalField(max_digits=10, decimal_places=4)
    rds_gp3_gb_month = serializers.DecimalField(max_digits=10, decimal_places=4)
    regions = serializers.ListField(child=serializers.CharField(), help_text="Regions with a price table")
    ec2 = Ec2PriceSerializer(many=True)
    rds = RdsPriceSerializer(many=True)


class PriceQuerySerializer(serializers.Serializer):
    region = serializers.RegexField(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$", default="us-east-1")
    family = serializers.CharField(required=False, max_length=32, help_text="Only this EC2 family (m7i, db.m5…)")
    engine = serializers.ChoiceField(choices=SizingPolicy.Engine.choices, required=False)


class DiskReplicationSerializer(serializers.ModelSerializer):
    """A disk being replicated to EBS: the current (or last) pass and the snapshot chain."""

    backlog_bytes = serializers.IntegerField(read_only=True, help_text="Bytes of the current pass not yet sent")
    snapshot_chain = serializers.ListField(child=serializers.CharField(), read_only=True,
                                           help_text="Completed snapshot ids, oldest first")
    stalled = serializers.BooleanField(read_only=True, help_text="Replicating, but no progress for a while")

    class Meta:
        model = DiskReplication
        fields = ["id", "account", "name", "source_kind", "source_vm", "source_host", "source_disk", "source_path",
                  "source_format", "size_bytes", "block_size", "state",
                  "bytes_total", "bytes_sent", "backlog_bytes", "blocks_total", "blocks_sent", "throughput_mbps",
                  "stalled", "snapshot_chain", "ami_id", "last_error", "last_replicated_at", "created_at", "updated_at"]
        read_only_fields = fields
