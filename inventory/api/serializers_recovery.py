"""API representations of replacements (a failed host's role moved to a spare)."""

from rest_framework import serializers

from inventory.models import Host, Replacement, ReplacementStep


class ReplacementStepSerializer(serializers.ModelSerializer):
    """One step; `confirmed_by` is who confirmed it (destructive steps need a person)."""

    confirmed_by = serializers.CharField(source="confirmed_by.username", read_only=True, allow_null=True,
                                         default=None, help_text="Who confirmed it (null: not yet, or not needed)")

    class Meta:
        model = ReplacementStep
        fields = ["number", "kind", "title", "destructive", "state", "confirmed_by", "confirmed_at", "job",
                  "outcome", "finished_at"]


class CandidateSerializer(serializers.Serializer):
    """A spare considered: whether it fits and, if not, why."""

    host_id = serializers.IntegerField()
    hostname = serializers.CharField()
    site = serializers.CharField()
    rack = serializers.CharField(allow_blank=True)
    cpu_cores = serializers.IntegerField()
    memory_mib = serializers.IntegerField()
    disk_gb = serializers.IntegerField()
    fits = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())
    chosen = serializers.BooleanField()


class ReplacementSerializer(serializers.ModelSerializer):
    """The plan (spare, name, candidates) and its steps. Created by proposing it for a
    failed host; nothing changes until each step is confirmed."""

    failed_host = serializers.PrimaryKeyRelatedField(
        queryset=Host.objects.all(), help_text="The failed host (no hypervisor: those are recovered by HA restart)")
    failed_hostname = serializers.CharField(source="failed_host.hostname", read_only=True)
    spare_hostname = serializers.CharField(source="spare.hostname", read_only=True, allow_null=True, default=None)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True, allow_null=True,
                                         default=None, help_text="Who proposed it (null: failure detection)")
    candidates = CandidateSerializer(many=True, read_only=True)
    steps = ReplacementStepSerializer(many=True, read_only=True)

    class Meta:
        model = Replacement
        fields = ["id", "failed_host", "failed_hostname", "role_name", "spare", "spare_hostname", "new_hostname",
                  "naming_note", "state", "automatic", "requested_by", "evidence", "candidates", "steps",
                  "runbook", "created_at", "finished_at"]
        read_only_fields = [f for f in fields if f != "failed_host"]
        validators = []  # proposing again returns the open replacement (the service decides)


class ConfirmStepSerializer(serializers.Serializer):
    """Confirm the next step. `confirm` must be true: the step changes the inventory."""

    step = serializers.IntegerField(min_value=1, max_value=32767, help_text="The step's number (the next one)")
    confirm = serializers.BooleanField(default=False, help_text="Must be true: you confirm this step")
    spare = serializers.PrimaryKeyRelatedField(
        queryset=Host.objects.all(), required=False, help_text="Take-over step: another fitting spare")
    hostname = serializers.CharField(max_length=63, required=False, allow_blank=True,
                                     help_text="Take-over step: the spare's new name (default: the proposed one)")

    def validate_confirm(self, value):
        if not value:
            raise serializers.ValidationError(
                "This step changes the inventory: send \"confirm\": true to confirm it in your name.")
        return value

    def validate_hostname(self, value):
        if "\x00" in value:
            raise serializers.ValidationError("Null characters are not allowed.")
        return value
