"""Migrations API: dependencies, plans (made by assessing hosts and VMs), their workloads
and waves, the review, and runs with their controls (pause, resume, cancel, sync, test
cutover, cutover, rollback, finalize). Viewers read; operators plan, run and delete plans."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from cloud.services.prices import NoPriceTable
from cloud.services.workloads import load_workloads
from core.api.accepted import JobAcceptedSerializer, job_accepted, validated
from core.api.audit import AuditedMixin, audited
from core.api.exceptions import Conflict, django_validation_error_detail
from core.api.schema import ErrorDetailSerializer
from core.api.views import ApiViewMixin
from core.roles import Role

from ..models import Dependency, MigrationPlan, PlannedWorkload, Run, Wave
from ..services import checks, plans, runs, waves
from ..services.assessment import assess
from . import filters
from . import serializers as s


class RunAcceptedSerializer(JobAcceptedSerializer):
    run = serializers.IntegerField(help_text="The run the job executes")
    run_url = serializers.CharField(help_text="Its steps and their progress: /api/migrations/runs/<id>/")


def run_accepted(run):
    return job_accepted(run.job, run=run.pk, run_url=reverse("migration-run-detail", args=[run.pk]))


def assessed(options):
    workloads = load_workloads(host_ids=options["hosts"], vm_ids=options["vms"])
    try:
        return assess(workloads, account=options.get("account"), region=options.get("region"),
                      policy_overrides=options.get("policy"))
    except NoPriceTable as exc:
        raise serializers.ValidationError({"region": [str(exc)]}) from exc


class AssessView(ApiViewMixin, APIView):
    """Assess hosts and VMs: a strategy per workload (retain, retire, rehost to another
    hypervisor, rehost to EC2, replatform to RDS) with the reason, sizing (from health
    metrics when measured) and monthly cost. Changes nothing."""

    write_role = Role.VIEWER

    @extend_schema(request=s.RecommendationRequestSerializer, responses=s.AssessmentSerializer)
    def post(self, request):
        return Response(s.AssessmentSerializer(assessed(validated(s.RecommendationRequestSerializer, request.data))).data)


class DependencyViewSet(ApiViewMixin, AuditedMixin, viewsets.ModelViewSet):
    """Who needs whom ("luna talks to batman"): dependencies decide the waves."""

    queryset = Dependency.objects.select_related("source_host", "source_vm", "target_host", "target_vm",
                                                 "created_by")
    serializer_class = s.DependencySerializer
    filterset_fields = ["source_host", "source_vm", "target_host", "target_vm"]
    ordering_fields = ["id", "created_at"]

    def perform_create(self, serializer):
        with transaction.atomic(), audited(self.request):
            serializer.save(created_by=self.request.user)


class PlanViewSet(ApiViewMixin, AuditedMixin, viewsets.ModelViewSet):
    """Migration plans. POST assesses the given hosts and VMs and makes a draft plan of
    them, grouped into waves by their dependencies."""

    queryset = MigrationPlan.objects.select_related("created_by").annotate(workload_count=Count("workloads"))
    serializer_class = s.PlanSerializer
    filterset_class = filters.PlanFilterSet
    ordering_fields = ["name", "created_at"]

    @extend_schema(request=s.PlanCreateSerializer, responses={201: s.PlanSerializer})
    def create(self, request, *args, **kwargs):
        options = validated(s.PlanCreateSerializer, request.data)
        assessment = assessed(options)
        with transaction.atomic(), audited(request):
            plan = plans.create_plan(options["name"], assessment, user=request.user, account=options.get("account"),
                                     description=options["description"])
        return Response(self.get_serializer(self.get_queryset().get(pk=plan.pk)).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        """409 while a run of the plan is in progress (plans.delete_plan, as in the console)."""
        try:
            with transaction.atomic(), audited(self.request):
                plans.delete_plan(instance, user=self.request.user)
        except DjangoValidationError as exc:
            raise Conflict(" ".join(exc.messages)) from exc

    @extend_schema(request=None, responses=s.WaveSerializer(many=True))
    @action(detail=True, methods=["post"], url_path="group-waves")
    def group_waves(self, request, pk=None):
        """Replace the plan's waves with those its dependencies make (connected workloads
        together, dependencies first)."""
        plan = self.get_object()
        with audited(request):
            made = waves.apply_waves(plan)
        return Response(s.WaveSerializer(made, many=True).data)

    @extend_schema(responses=s.ReviewSerializer)
    @action(detail=True, methods=["get"])
    def review(self, request, pk=None):
        """Everything the run will do, in order, the monthly cost before and after, and what
        stops the plan from starting (empty: it can start)."""
        return Response(s.ReviewSerializer(plans.review(self.get_object())).data)

    @extend_schema(request=s.StartSerializer, responses={202: RunAcceptedSerializer})
    @action(detail=True, methods=["post"], write_role=runs.start_run.role)
    def start(self, request, pk=None):
        """Start a run of the plan (or of one wave): 400 with the reasons when it is not ready."""
        plan = self.get_object()
        wave = validated(s.StartSerializer, request.data).get("wave")
        try:
            with audited(request):
                run = runs.start_run(plan, request.user, wave=wave)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(django_validation_error_detail(exc)) from exc
        return run_accepted(run)


class WaveViewSet(ApiViewMixin, AuditedMixin, viewsets.ModelViewSet):
    """Waves of plans: workloads that move together, in the waves' number order."""

    queryset = Wave.objects.select_related("plan")
    serializer_class = s.WaveSerializer
    filterset_fields = ["plan"]
    ordering_fields = ["plan", "number"]


class PlannedWorkloadViewSet(ApiViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                             mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """The workloads of plans: change a strategy, a target or a wave (PATCH)."""

    queryset = PlannedWorkload.objects.select_related("plan__account", "wave")
    serializer_class = s.PlannedWorkloadSerializer
    filterset_class = filters.PlannedWorkloadFilterSet
    ordering_fields = ["name", "strategy", "aws_monthly"]
    write_role = Role.OPERATOR

    def perform_update(self, serializer):
        with transaction.atomic(), audited(self.request):
            serializer.save()

    @extend_schema(responses=s.WorkloadDisksSerializer)
    @action(detail=True, methods=["get"])
    def disks(self, request, pk=None):
        """The disks this workload's disk can be chosen from, asked of the real system (libvirt for a
        VM, lsblk over SSH for a host, images under the declared roots), with size and allocation."""
        choices, problem = checks.workload_disks(self.get_object())
        return Response({"disks": [c.as_dict() for c in choices], "problem": problem})


class RunViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Runs of plans with their steps (state, progress, checkpoint, bytes left, throughput).
    Operators pause, resume, cancel, sync, test cutover, cut over and roll back."""

    queryset = Run.objects.select_related("plan", "created_by")
    filterset_fields = ["plan", "state"]
    ordering_fields = ["created_at"]
    write_role = runs.add_action.role  # every control is an operator's action (migrations_tool.services.runs)

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset if self.action == "list" else queryset.prefetch_related("steps__workload")

    def get_serializer_class(self):
        return s.RunSerializer if self.action == "list" else s.RunDetailSerializer

    # every control answers 409 when the run's state refuses it (RunRefused)
    def _control(self, request, do):
        run = self.get_object()
        try:
            with audited(request):
                run = do(run)
        except runs.RunRefused as exc:
            raise Conflict(str(exc)) from exc
        run = self.get_queryset().get(pk=run.pk)
        return run

    @extend_schema(request=None, responses={200: s.RunDetailSerializer, 409: ErrorDetailSerializer})
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        """Pause at the next step or progress report (the step's checkpoint is kept). 409 when not running."""
        return Response(s.RunDetailSerializer(self._control(request, lambda r: runs.request(r, Run.Control.PAUSE, request.user))).data)

    @extend_schema(request=None, responses={200: s.RunDetailSerializer, 409: ErrorDetailSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel: no further steps; sources not yet cut over keep running. 409 when finished."""
        return Response(s.RunDetailSerializer(self._control(request, lambda r: runs.request(r, Run.Control.CANCEL, request.user))).data)

    @extend_schema(request=s.ResumeSerializer, responses={202: RunAcceptedSerializer, 409: ErrorDetailSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Go on after a pause, a failure or a dead worker (take_over), from each step's checkpoint."""
        take_over = validated(s.ResumeSerializer, request.data)["take_over"]
        return run_accepted(self._control(request, lambda r: runs.resume(r, request.user, take_over=take_over)))

    def _add(self, request, what):
        ids = validated(s.RunActionSerializer, request.data)["workloads"]
        return run_accepted(self._control(request, lambda r: runs.add_action(r, what, request.user, ids)))

    @extend_schema(request=s.RunActionSerializer, responses={202: RunAcceptedSerializer, 409: ErrorDetailSerializer})
    @action(detail=True, methods=["post"])
    def sync(self, request, pk=None):
        """Send what changed since the last replication (the sources keep running)."""
        return self._add(request, "sync")

    @extend_schema(request=s.RunActionSerializer, responses={202: RunAcceptedSerializer, 409: ErrorDetailSerializer})
    @action(detail=True, methods=["post"], url_path="test-cutover")
    def test_cutover(self, request, pk=None):
        """Launch test copies of replicated workloads; the sources are not touched."""
        return self._add(request, "test_cutover")

    @extend_schema(request=s.RunActionSerializer, responses={202: RunAcceptedSerializer, 409: ErrorDetailSerializer})
    @action(detail=True, methods=["post"])
    def cutover(self, request, pk=None):
        """Cut over: stop the source, last delta, launch, inventory and DNS follow."""
        return self._add(request, "cutover")

    @extend_schema(request=s.RunActionSerializer, responses={202: RunAcceptedSerializer, 409: ErrorDetailSerializer})
    @action(detail=True, methods=["post"])
    def finalize(self, request, pk=None):
        """Keep the move for good: test instances go, rollback is no longer offered."""
        return self._add(request, "finalize")

    @extend_schema(request=s.RunActionSerializer, responses={202: RunAcceptedSerializer, 409: ErrorDetailSerializer})
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        """Undo: terminate instances, restore DNS, start the sources where they were."""
        return self._add(request, "rollback")
