"""Replacements of failed hosts by spares. Viewers read; operators propose, confirm each
step (answered 202 with the job that runs it), plan again and cancel."""

import django_filters
from django.db import transaction
from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.audit import audited
from core.api.schema import ErrorDetailSerializer
from core.api.views import ApiViewMixin
from core.filters import FilterSet
from core.roles import Role as ConsoleRole
from inventory.models import Replacement
from inventory.services import recovery

from .serializers_recovery import ConfirmStepSerializer, ReplacementSerializer

StepAcceptedSerializer = inline_serializer("ReplacementStepAccepted", fields={
    "job": serializers.IntegerField(), "url": serializers.CharField(), "state": serializers.CharField(),
    "step": serializers.IntegerField(),
})


class ReplacementFilterSet(FilterSet):
    open = django_filters.BooleanFilter(method="filter_open", label="Open (proposed or in progress)")

    class Meta:
        model = Replacement
        fields = ["state", "failed_host", "spare"]

    def filter_open(self, queryset, name, value):
        method = queryset.filter if value else queryset.exclude
        return method(state__in=Replacement.OPEN_STATES)


class ReplacementViewSet(ApiViewMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Replacements of failed (non-virtual) hosts by spares. POST {"failed_host": id} proposes
    one (or returns the open one); nothing changes until each step is confirmed."""

    queryset = Replacement.objects.select_related("failed_host", "spare", "requested_by").prefetch_related(
        "steps__confirmed_by")
    serializer_class = ReplacementSerializer
    filterset_class = ReplacementFilterSet
    ordering_fields = ["created_at", "state"]
    read_role = ConsoleRole.VIEWER
    write_role = ConsoleRole.OPERATOR

    def handle_exception(self, exc):
        if isinstance(exc, recovery.StepRefused):
            exc = serializers.ValidationError(exc.message_dict)
        elif isinstance(exc, recovery.NotReplaceable):
            exc = serializers.ValidationError({"failed_host": [str(exc)]})
        return super().handle_exception(exc)

    def perform_create(self, serializer):
        with audited(self.request):
            serializer.instance = recovery.propose_replacement(serializer.validated_data["failed_host"],
                                                               user=self.request.user)

    @extend_schema(request=ConfirmStepSerializer, responses={202: StepAcceptedSerializer, 409: ErrorDetailSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """Confirm the next step in your name; it runs as a job (202). 400 without
        "confirm": true, for a step that is not the next one, or a spare or name that cannot be used."""
        replacement = self.get_object()
        data = ConfirmStepSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        choices = {key: data.validated_data[key] for key in ("spare", "hostname") if key in data.validated_data}
        with transaction.atomic(), audited(request):
            job = recovery.confirm_step(replacement, data.validated_data["step"], request.user, **choices)
        return Response({"job": job.pk, "url": reverse("job-detail", args=[job.pk]), "state": job.state,
                         "step": data.validated_data["step"]}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=ReplacementSerializer)
    @action(detail=True, methods=["post"])
    def replan(self, request, pk=None):
        """Choose the spare and the name again (e.g. after a spare was added)."""
        with audited(request):
            replacement = recovery.replan(self.get_object(), request.user)
        return Response(self.get_serializer(replacement).data)

    @extend_schema(request=None, responses=ReplacementSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a proposed replacement (nothing it did is undone)."""
        replacement = self.get_object()
        with audited(request):
            recovery.cancel(replacement, request.user)
        return Response(self.get_serializer(replacement).data)
