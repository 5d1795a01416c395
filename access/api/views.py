"""Access API, under /api/health/ where it has always been: SSH host keys (viewers read;
admins trust, through the same service function as the console, and delete) and SSH
credentials (admins; private keys write-only)."""

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.accepted import validated
from core.api.audit import AuditedMixin, audited
from core.api.views import ApiViewMixin
from core.roles import Role as ConsoleRole

from ..models import HostKey, SSHCredential
from ..services import trust as trust_service
from . import filters
from .serializers import HostKeySerializer, KnownKeySerializer, SSHCredentialSerializer, TrustKeySerializer


class HostKeyViewSet(ApiViewMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet):
    """SSH host keys: pending ones (offered by a host, not trusted yet: its SSH check fails)
    and trusted ones, each for the address its host was reached at. Admins trust a pending
    key after comparing its fingerprint (POST …/trust/ with that fingerprint) or trust a key
    known beforehand (POST with host and public_key), and delete (revoke) keys. A key whose
    host's address changed is pending again."""

    queryset = HostKey.objects.select_related("host", "trusted_by")
    serializer_class = HostKeySerializer
    filterset_class = filters.HostKeyFilterSet
    ordering_fields = ["first_seen", "trusted_at", "host__hostname"]
    write_role = trust_service.trust.role
    delete_role = ConsoleRole.ADMIN

    @extend_schema(request=KnownKeySerializer, responses={201: HostKeySerializer})
    def create(self, request):
        data = validated(KnownKeySerializer, request.data)
        with audited(request):
            key = trust_service.trust_public_key(data["host"], data["public_key"], user=request.user)
        return Response(HostKeySerializer(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TrustKeySerializer, responses=HostKeySerializer)
    @action(detail=True, methods=["post"])
    def trust(self, request, pk=None):
        """Trust this key. `fingerprint` must be the key's: the one you verified on the host
        (e.g. `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on its console)."""
        key = self.get_object()
        fingerprint = validated(TrustKeySerializer, request.data)["fingerprint"]
        try:
            with audited(request):
                key = trust_service.trust(key, user=request.user, confirm_fingerprint=fingerprint)
        except trust_service.FingerprintMismatch as exc:
            raise serializers.ValidationError({"fingerprint": [str(exc)]}) from exc
        return Response(self.get_serializer(key).data)

    def perform_destroy(self, instance):
        with transaction.atomic(), audited(self.request):
            instance.delete()


class SSHCredentialViewSet(ApiViewMixin, AuditedMixin, viewsets.ModelViewSet):
    """SSH logins for the checks and disk copies (default, per role, per host). Viewers
    read, admins change. Keys are write-only."""

    queryset = SSHCredential.objects.prefetch_related("roles", "hosts")
    serializer_class = SSHCredentialSerializer
    filterset_fields = ["is_default"]
    ordering_fields = ["name"]
    write_role = ConsoleRole.ADMIN
    delete_role = ConsoleRole.ADMIN
