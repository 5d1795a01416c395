import copy

from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.models import Job
from core.roles import Role, role_of

from .exceptions import django_validation_error_detail


class SlugRelatedField(serializers.SlugRelatedField):
    """DRF's SlugRelatedField, refusing NUL characters before the lookup: PostgreSQL
    cannot even compare text holding them, which would be a 500 instead of a 400."""

    default_error_messages = {"null_characters": "Null characters are not allowed."}

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("null_characters")
        return super().to_internal_value(data)


class CleanModelSerializer(serializers.ModelSerializer):
    # A ModelSerializer that also runs the model's clean(), so the rules that live in
    # the model (rack overlap, strict naming, lifecycle...) come back as 400 field errors
    # instead of being skipped (DRF never calls clean() itself).
    # (a comment, not a docstring: drf-spectacular would show an inherited docstring
    # as the description of every view or serializer built on this class)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        try:
            self.candidate_instance(attrs).clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(django_validation_error_detail(exc)) from exc
        return attrs

    def candidate_instance(self, attrs):
        """The object as it would be saved, without touching self.instance."""
        model = self.Meta.model
        column_fields = {field.name for field in model._meta.concrete_fields}
        values = {name: value for name, value in attrs.items() if name in column_fields}
        if self.instance is None:
            return model(**values)
        candidate = copy.copy(self.instance)
        for name, value in values.items():
            setattr(candidate, name, value)
        return candidate


def content_type_label(content_type):
    return f"{content_type.app_label}.{content_type.model}" if content_type else None


class JobSerializer(serializers.ModelSerializer):
    """A long-running unit of work and its progress."""

    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    target_type = serializers.SerializerMethodField(help_text="app_label.model of the object the job works on")
    params = serializers.JSONField(source="visible_params", read_only=True)

    class Meta:
        model = Job
        fields = [
            "id", "kind", "title", "state", "progress", "message", "params", "result",
            "created_by", "created_at", "started_at", "finished_at", "cancel_requested",
            "target_type", "target_id",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_target_type(self, job):
        return content_type_label(job.target_type)


class JobDetailSerializer(JobSerializer):
    """One job with its log and error trace (too big to repeat in every list row)."""

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "log", "error"]
        read_only_fields = fields


ACTION_NAMES = {value: str(label) for value, label in LogEntry.Action.choices}


class ChangeLogEntrySerializer(serializers.ModelSerializer):
    """One recorded change: who did what to which object, with before/after values."""

    action = serializers.SerializerMethodField()
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    content_type = serializers.SerializerMethodField(help_text="app_label.model of the changed object")
    changes = serializers.SerializerMethodField(help_text='{"field": [old, new]} (m2m fields: what was added or removed)')

    class Meta:
        model = LogEntry
        fields = [
            "id", "timestamp", "action", "actor", "content_type", "object_pk", "object_id",
            "object_repr", "changes", "remote_addr",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "enum": list(ACTION_NAMES.values())})
    def get_action(self, entry):
        return ACTION_NAMES.get(entry.action, str(entry.action))

    @extend_schema_field(serializers.CharField())
    def get_content_type(self, entry):
        return content_type_label(entry.content_type)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_changes(self, entry):
        return entry.changes_dict


class CurrentUserSerializer(serializers.ModelSerializer):
    """The authenticated user and their console role."""

    role = serializers.SerializerMethodField(help_text="The console role: what this user may do")

    email = serializers.CharField(read_only=True, help_text="May be empty")

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "first_name", "last_name", "email", "role"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=[role.group_name for role in Role], allow_null=True))
    def get_role(self, user):
        role = role_of(user)
        return role.group_name if role else None
