"""Health API. Viewers read results, states and alerts; operators start sweeps; admins
configure schedules, ports and alert targets. Host keys and SSH credentials, under
/api/health/ too, are the access app's."""

from django.db import transaction
from django.db.models import Prefetch
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.audit import AuditedMixin, audited
from core.api.exceptions import Conflict
from core.api.schema import ErrorDetailSerializer
from core.api.views import ApiViewMixin
from core.roles import Role as ConsoleRole

from .. import tasks
from ..models import (
    Alert,
    AlertDelivery,
    AlertTarget,
    CheckResult,
    CheckSchedule,
    CheckStatus,
    FenceAttempt,
    FenceDevice,
    HostHealth,
    PortCheck,
    Recovery,
    SiteRecoveryPolicy,
)
from ..services import history, recovery
from . import filters
from .serializers import (
    AlertSerializer,
    AlertTargetSerializer,
    CheckResultSerializer,
    CheckScheduleSerializer,
    FenceAttemptSerializer,
    FenceDeviceSerializer,
    HostHealthSerializer,
    PortCheckSerializer,
    RecoveryPolicySerializer,
    RecoverySerializer,
    SeriesQuerySerializer,
    SeriesSerializer,
    StartRecoverySerializer,
    SweepAcceptedSerializer,
    SweepSerializer,
)


def validated(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class CheckResultViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Check results (raw: the last day or so; older history is in hourly aggregates).
    Filter by host, check, outcome and time range."""

    queryset = CheckResult.objects.select_related("host")
    serializer_class = CheckResultSerializer
    filterset_class = filters.CheckResultFilterSet
    ordering_fields = ["checked_at", "duration_ms"]


class HostHealthViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Current health per host (by host id), with the latest status of each check."""

    queryset = HostHealth.objects.select_related("host").prefetch_related(
        Prefetch("host__check_statuses", queryset=CheckStatus.objects.order_by("check_type"))
    ).order_by("host__hostname")
    serializer_class = HostHealthSerializer
    filterset_class = filters.HostHealthFilterSet
    ordering_fields = ["host__hostname", "state", "since", "last_check_at", "consecutive_failures"]

    @extend_schema(parameters=[SeriesQuerySerializer], responses=SeriesSerializer)
    @action(detail=True, methods=["get"])
    def series(self, request, pk=None):
        """Load, memory and disk use over time (for charts)."""
        health = self.get_object()
        span = history.CHART_RANGES[validated(SeriesQuerySerializer, request.query_params)["range"]]
        return Response(history.metric_series(health.host, span))


class AdminConfigViewSet(ApiViewMixin, AuditedMixin, viewsets.ModelViewSet):
    # Health configuration: viewers read, admins change (the models' required_roles).
    pass


class CheckScheduleViewSet(AdminConfigViewSet):
    """How often each check runs: for every host, a role's hosts or one host (the most
    specific wins; a disabled schedule turns the check off where it applies)."""

    queryset = CheckSchedule.objects.select_related("role", "host")
    serializer_class = CheckScheduleSerializer
    filterset_class = filters.CheckScheduleFilterSet
    ordering_fields = ["check_type", "interval_seconds"]


class PortCheckViewSet(AdminConfigViewSet):
    """TCP ports per role (e.g. db → 5432) the tcp check connects to."""

    queryset = PortCheck.objects.select_related("role")
    serializer_class = PortCheckSerializer
    filterset_fields = ["port"]
    ordering_fields = ["port"]


class AlertTargetViewSet(AdminConfigViewSet):
    """Where alerts go: email (Django's mail settings) or a webhook (JSON POST, retried)."""

    queryset = AlertTarget.objects.all()
    serializer_class = AlertTargetSerializer
    filterset_fields = ["kind", "enabled"]
    ordering_fields = ["name"]


class AlertViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Alerts raised, with each delivery and every attempt (time, HTTP status, error)."""

    queryset = Alert.objects.select_related("host").prefetch_related(
        Prefetch("deliveries", queryset=AlertDelivery.objects.prefetch_related("attempt_log"))
    )
    serializer_class = AlertSerializer
    filterset_class = filters.AlertFilterSet
    ordering_fields = ["created_at"]


class SweepView(ApiViewMixin, APIView):
    """Check now: a sweep Job over the given hosts (default: all checked hosts) and checks
    (default: every scheduled check that applies). Operators."""

    write_role = ConsoleRole.OPERATOR

    @extend_schema(request=SweepSerializer, responses={202: SweepAcceptedSerializer})
    def post(self, request):
        data = validated(SweepSerializer, request.data if isinstance(request.data, dict) else {})
        hosts = data.get("hosts")
        host_ids = [host.pk for host in hosts] if hosts else None
        with transaction.atomic():
            job = tasks.start_sweep(request.user, host_ids, data.get("checks"),
                                    title="Health checks" + (f" of {len(host_ids)} host(s)" if host_ids else ""))
        body = {"job": job.pk, "url": reverse("job-detail", args=[job.pk]), "state": job.state}
        return Response(body, status=status.HTTP_202_ACCEPTED)


# --- fencing and recovery -----------------------------------------------------------------


class FenceDeviceViewSet(AdminConfigViewSet):
    """How each host is fenced (IPMI, the lab's power switch, or manual). Admins only
    change them; the IPMI password is write-only."""

    queryset = FenceDevice.objects.select_related("host")
    serializer_class = FenceDeviceSerializer
    filterset_fields = ["agent", "enabled", "host"]
    ordering_fields = ["host__hostname", "updated_at"]


class FenceAttemptViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Every fence attempt, with the power state the agent read back."""

    queryset = FenceAttempt.objects.select_related("host", "requested_by")
    serializer_class = FenceAttemptSerializer
    filterset_fields = ["host", "agent", "outcome", "automatic"]
    ordering_fields = ["started_at"]


class RecoveryViewSet(ApiViewMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Recoveries of failed hosts (proposed, running, done). Operators start one (POST:
    fence and restart, or confirmed_off after checking the host by hand) or dismiss a proposal."""

    queryset = Recovery.objects.select_related("host", "requested_by")
    serializer_class = RecoverySerializer
    filterset_fields = ["host", "state", "automatic"]
    ordering_fields = ["created_at"]
    write_role = recovery.start_recovery.role  # and dismissing: both operators' actions

    @extend_schema(request=StartRecoverySerializer, responses={202: RecoverySerializer, 409: ErrorDetailSerializer})
    def create(self, request):
        data = validated(StartRecoverySerializer, request.data if isinstance(request.data, dict) else {})
        try:
            with audited(request):
                started = recovery.start_recovery(data["host"], user=request.user,
                                                  confirmed_off=data["confirmed_off"], note=data["note"])
        except recovery.RecoveryRefused as exc:
            raise Conflict(str(exc)) from exc
        return Response(RecoverySerializer(started).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: RecoverySerializer, 409: ErrorDetailSerializer})
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        """Dismiss a proposed recovery (the operator decided not to act)."""
        proposal = self.get_object()
        try:
            recovery.dismiss(proposal, request.user)
        except recovery.RecoveryRefused as exc:
            raise Conflict(str(exc)) from exc
        proposal.refresh_from_db()
        return Response(self.get_serializer(proposal).data)


class RecoveryPolicyViewSet(AdminConfigViewSet):
    """Auto-recovery per site (off unless a policy says on)."""

    queryset = SiteRecoveryPolicy.objects.select_related("site")
    serializer_class = RecoveryPolicySerializer
    filterset_fields = ["auto_recover"]
    ordering_fields = ["site__name"]
