from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cloud.api.serializers import RecommendationRequestSerializer
from cloud.models import ReplicationPass
from core.api.exceptions import django_validation_error_detail
from core.api.serializers import CleanModelSerializer
from hypervisors.models import Hypervisor

from ..models import Dependency, MigrationPlan, PlannedWorkload, Run, RunStep, StepState, Strategy, Wave
from ..services import plans, runs
from ..source_dsn import clean_source_dsn

MONEY = {"max_digits": 12, "decimal_places": 2, "read_only": True}


def state_field(choices):
    # Read-only states as documented strings: their enums would collide by name with the
    # other apps' "state" and "status" enums in the OpenAPI schema.
    return serializers.CharField(read_only=True, help_text="One of: " + ", ".join(value for value, _ in choices))


class DependencySerializer(CleanModelSerializer):
    """`source` needs `target`: give one of source_host/source_vm and one of target_host/target_vm."""

    source_name = serializers.CharField(source="source", read_only=True)
    target_name = serializers.CharField(source="target", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Dependency
        fields = ["id", "source_host", "source_vm", "target_host", "target_vm", "source_name", "target_name",
                  "description", "created_by", "created_at"]
        read_only_fields = ["created_by", "created_at"]


class WaveSerializer(CleanModelSerializer):
    class Meta:
        model = Wave
        fields = ["id", "plan", "number", "name"]
        validators = []  # the clash is told on the number field (validate below)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        plan = attrs.get("plan", getattr(self.instance, "plan", None))
        number = attrs.get("number", getattr(self.instance, "number", None))
        if plan is not None and Wave.objects.filter(plan=plan, number=number).exclude(
                pk=getattr(self.instance, "pk", None)).exists():
            raise serializers.ValidationError({"number": [f"The plan already has a wave {number}."]})
        return attrs


class PlannedWorkloadSerializer(serializers.ModelSerializer):
    """A workload of a plan: what the assessment suggested and what the operator chose.
    Writing strategy or targets re-costs it; a choice that cannot work is a 400."""

    kind = serializers.CharField(read_only=True)
    difference = serializers.DecimalField(allow_null=True, help_text="AWS minus on premises", **MONEY)
    monthly_after = serializers.DecimalField(allow_null=True, help_text="What it costs a month after the plan",
                                             **MONEY)
    source_dsn = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=1000,
                                       help_text="Source database DSN (replatform; admins only): TCP host and port, dbname, "
                                       "user, password, sslmode, connect_timeout, as key=value or a postgresql:// "
                                       "URI; never returned")
    has_source_dsn = serializers.SerializerMethodField()
    target_hypervisor = serializers.PrimaryKeyRelatedField(queryset=Hypervisor.objects.all(), required=False,
                                                           allow_null=True)
    wave = serializers.PrimaryKeyRelatedField(queryset=Wave.objects.all(), required=False, allow_null=True)
    status = state_field(PlannedWorkload.Status.choices)
    suggested_strategy = serializers.CharField(read_only=True, help_text="What the assessment suggested")

    class Meta:
        model = PlannedWorkload
        fields = ["id", "plan", "kind", "host", "vm", "name", "wave", "strategy", "suggested_strategy", "reason",
                  "basis", "utilisation_source", "required_vcpus", "required_memory_mib", "instance_type", "rds_class",
                  "engine", "multi_az", "target_hypervisor", "storage_gb", "dns_name", "source_dsn", "has_source_dsn",
                  "disk", "onprem_monthly", "aws_monthly", "difference", "monthly_after", "status",
                  "cloud_instance_id", "cloud_address"]
        read_only_fields = ["plan", "host", "vm", "name", "suggested_strategy", "reason", "basis", "utilisation_source",
                            "required_vcpus", "required_memory_mib", "storage_gb", "onprem_monthly", "aws_monthly",
                            "status", "cloud_instance_id", "cloud_address"]

    def get_has_source_dsn(self, planned) -> bool:
        return bool(planned.source_dsn)

    def validate_source_dsn(self, value):
        try:
            return clean_source_dsn(value, self.context["request"].user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc

    def update(self, instance, validated_data):
        try:
            return plans.change_workload(instance, **validated_data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(django_validation_error_detail(exc)) from exc


class PlanSerializer(CleanModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    workload_count = serializers.IntegerField(read_only=True)
    status = state_field(MigrationPlan.Status.choices)

    class Meta:
        model = MigrationPlan
        fields = ["id", "name", "description", "status", "account", "subnet", "security_group", "key_pair",
                  "dns_zone", "sync_every_minutes", "workload_count", "created_by", "created_at", "updated_at"]
        read_only_fields = ["status", "created_by", "created_at", "updated_at"]


class PlanCreateSerializer(RecommendationRequestSerializer):
    """A new plan: its name and the hosts and VMs to assess (sizing policy changes allowed)."""

    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")

    def validate_name(self, name):
        if "\x00" in name:
            raise serializers.ValidationError("Null characters are not allowed.")
        if MigrationPlan.objects.filter(name=name).exists():
            raise serializers.ValidationError(f"There is already a plan named {name}.")
        return name


class AssessedSerializer(serializers.Serializer):
    kind = serializers.CharField(source="workload.kind")
    id = serializers.IntegerField(source="workload.id")
    name = serializers.CharField(source="workload.name")
    strategy = serializers.ChoiceField(choices=Strategy.choices)
    reason = serializers.CharField()
    basis = serializers.CharField()
    utilisation_source = serializers.CharField(help_text="health, manual or empty (sized as allocated)")
    required_vcpus = serializers.IntegerField()
    required_memory_mib = serializers.IntegerField()
    instance_type = serializers.CharField()
    rds_class = serializers.CharField()
    engine = serializers.CharField()
    multi_az = serializers.BooleanField()
    storage_gb = serializers.IntegerField()
    onprem_monthly = serializers.DecimalField(allow_null=True, **MONEY)
    aws_monthly = serializers.DecimalField(allow_null=True, **MONEY)
    difference = serializers.DecimalField(allow_null=True, **MONEY)


class AssessmentSerializer(serializers.Serializer):
    region = serializers.CharField()
    by_strategy = serializers.DictField(child=serializers.IntegerField())
    utilisation_sources = serializers.DictField(child=serializers.IntegerField(),
                                                help_text="How many workloads were sized from which figures")
    items = AssessedSerializer(many=True)


class RunStepSerializer(serializers.ModelSerializer):
    workload_name = serializers.CharField(source="workload.name", read_only=True)
    bytes_left = serializers.IntegerField(read_only=True)
    state = state_field(StepState.choices)

    class Meta:
        model = RunStep
        fields = ["id", "workload", "workload_name", "kind", "position", "state", "progress", "message", "checkpoint",
                  "bytes_total", "bytes_done", "bytes_left", "throughput_bps", "attempts", "error", "started_at",
                  "finished_at"]
        read_only_fields = fields


class RunSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    state = state_field(Run.State.choices)
    control = serializers.CharField(read_only=True, help_text="pause or cancel when asked and not yet done")

    class Meta:
        model = Run
        fields = ["id", "plan", "wave", "state", "control", "job", "message", "created_by", "created_at",
                  "finished_at"]
        read_only_fields = fields


class DiskChoiceSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="What PATCH takes as the workload's disk")
    size = serializers.IntegerField(help_text="Bytes")
    allocated = serializers.IntegerField(allow_null=True, help_text="Bytes in use (null: the source cannot tell)")
    description = serializers.CharField()


class WorkloadDisksSerializer(serializers.Serializer):
    disks = DiskChoiceSerializer(many=True)
    problem = serializers.CharField(allow_null=True, help_text="Why the workload's own disks could not be listed")


class ReplicationPassSerializer(serializers.ModelSerializer):
    snapshot_id = serializers.CharField(source="snapshot.snapshot_id", read_only=True, allow_null=True, default=None)

    class Meta:
        model = ReplicationPass
        fields = ["id", "outcome", "method", "bytes_scanned", "bytes_received", "bytes_sent", "blocks_sent",
                  "blocks_unchanged", "zero_blocks_skipped", "seconds", "error", "snapshot_id", "started_at"]
        read_only_fields = fields


class WorkloadPassesSerializer(serializers.Serializer):
    workload = serializers.IntegerField(source="workload.pk")
    workload_name = serializers.CharField(source="workload.name")
    replication = serializers.IntegerField(source="replication_id")
    passes = ReplicationPassSerializer(many=True)


class RunDetailSerializer(RunSerializer):
    steps = RunStepSerializer(many=True, read_only=True)
    replication_passes = serializers.SerializerMethodField(
        help_text="Per replicated workload, each pass: how changes were found, bytes read at the source, "
                  "received, sent, blocks unchanged")
    next_sync_at = serializers.SerializerMethodField(
        help_text="When continuous replication sends the next delta (null: off, or not waiting for cutover)")

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "next_sync_at", "steps", "replication_passes"]
        read_only_fields = fields

    @extend_schema_field(WorkloadPassesSerializer(many=True))
    def get_replication_passes(self, run):
        return WorkloadPassesSerializer(runs.replication_passes(run), many=True).data

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_sync_at(self, run):
        due = runs.next_sync_at(run)
        return serializers.DateTimeField().to_representation(due) if due else None


class StartSerializer(serializers.Serializer):
    wave = serializers.PrimaryKeyRelatedField(queryset=Wave.objects.all(), required=False, allow_null=True,
                                              help_text="Only this wave (default: every wave, in order)")


class RunActionSerializer(serializers.Serializer):
    workloads = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
                                      required=False, default=list, max_length=1000,
                                      help_text="Planned workload ids (default: every one the action applies to)")


class ResumeSerializer(serializers.Serializer):
    take_over = serializers.BooleanField(required=False, default=False,
                                         help_text="The run's worker died (its job stopped reporting): start a new job")


class ReviewSerializer(serializers.Serializer):
    problems = serializers.ListField(child=serializers.CharField(), help_text="What stops the plan from starting")
    onprem_monthly = serializers.DecimalField(**MONEY)
    monthly_after = serializers.DecimalField(**MONEY)
    steps = serializers.ListField(child=serializers.DictField(), help_text="Every step the run will take, in order")
