"""Access API representations: SSH host keys (trusting one, or one known beforehand) and
SSH credentials. Private keys and passphrases are write-only: no response ever contains them."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import CleanModelSerializer, SlugRelatedField
from inventory.models import Host, Role

from ..drivers import ssh as ssh_driver
from ..models import HostKey, SSHCredential
from ..services.credentials import assignment_conflicts


class HostKeySerializer(serializers.ModelSerializer):
    """An SSH host key a host offered (pending) or an admin trusted, for the address in
    trusted_address (the trust ends when the host's address changes)."""

    hostname = serializers.CharField(source="host.hostname", read_only=True)
    trusted = serializers.BooleanField(read_only=True)
    trusted_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = HostKey
        fields = ["id", "host", "hostname", "key_type", "key", "fingerprint", "replaces", "first_seen", "last_seen",
                  "trusted", "trusted_by", "trusted_at", "trusted_address"]
        read_only_fields = fields


class TrustKeySerializer(serializers.Serializer):
    fingerprint = serializers.CharField(max_length=100, help_text="The SHA256:… fingerprint you verified on the host")


class KnownKeySerializer(serializers.Serializer):
    """Trust a public key known beforehand (e.g. from the installer's output)."""

    host = serializers.PrimaryKeyRelatedField(queryset=Host.objects.all())
    public_key = serializers.CharField(max_length=20000, help_text="One line: '<type> <base64> [comment]'")

    def validate_public_key(self, value):
        try:
            ssh_driver.parse_public_key_line(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value


class SSHCredentialSerializer(CleanModelSerializer):
    """A login for the SSH checks. private_key and passphrase are write-only."""

    private_key = serializers.CharField(write_only=True, required=False, max_length=20000,
                                        style={"base_template": "textarea.html"},
                                        help_text="Required when creating; leave out to keep the stored one")
    passphrase = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=500)
    roles = SlugRelatedField(slug_field="slug", queryset=Role.objects.all(), many=True, required=False)
    hosts = serializers.PrimaryKeyRelatedField(queryset=Host.objects.all(), many=True, required=False)
    key_type = serializers.SerializerMethodField(help_text="Type of the stored private key")

    class Meta:
        model = SSHCredential
        fields = ["id", "name", "username", "port", "private_key", "passphrase", "is_default", "roles", "hosts",
                  "key_type", "created_at", "updated_at"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_key_type(self, credential):
        try:
            return ssh_driver.load_private_key(credential.private_key, credential.passphrase).get_name()
        except ssh_driver.BadPrivateKey:
            return None

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is None and not attrs.get("private_key"):
            raise serializers.ValidationError({"private_key": ["A new credential needs its private key."]})
        key = attrs.get("private_key", self.instance.private_key if self.instance else "")
        passphrase = attrs.get("passphrase", self.instance.passphrase if self.instance else "")
        try:
            ssh_driver.load_private_key(key, passphrase)
        except ssh_driver.BadPrivateKey as exc:
            raise serializers.ValidationError({"private_key": [str(exc)]}) from exc
        errors = assignment_conflicts(self.instance, attrs.get("roles"), attrs.get("hosts"), attrs.get("is_default"))
        if errors:
            raise serializers.ValidationError(errors)
        return attrs
