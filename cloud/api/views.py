"""Cloud API: accounts (admins write; connection tests and catalogue refreshes are
operators' jobs), the instance type catalogue and the price table (read), sizing policy
and on-premises cost models (admins write), measured utilisation (operators write), and
recommendations: POST workload ids, get a target and a monthly cost for each.

Recommendations change nothing, so a viewer may ask for them."""

from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.accepted import JobAcceptedSerializer, job_accepted
from core.api.audit import AuditedMixin, audited
from core.api.views import ApiViewMixin
from core.roles import Role

from ..models import CloudAccount, DiskReplication, InstanceType, OnPremCostModel, SizingPolicy, UtilisationRecord
from ..services import accounts
from ..services import prices as price_service
from ..services.recommendations import recommend
from ..services.workloads import load_workloads
from . import filters
from .serializers import (
    CloudAccountSerializer,
    DiskReplicationSerializer,
    InstanceTypeSerializer,
    OnPremCostModelSerializer,
    PriceQuerySerializer,
    PriceTableSerializer,
    RecommendationRequestSerializer,
    RecommendationResultSerializer,
    SizingPolicySerializer,
    UtilisationRecordSerializer,
)


def accounts_with_catalogue_size():
    types = (InstanceType.objects.filter(region=OuterRef("region")).order_by().values("region")
             .annotate(count=Count("pk")).values("count"))
    return CloudAccount.objects.annotate(
        instance_type_count=Coalesce(Subquery(types, output_field=IntegerField()), 0)
    )


class CloudAccountViewSet(ApiViewMixin, AuditedMixin, viewsets.ModelViewSet):
    """AWS accounts (real, or the embedded cloud). The secret access key is write-only."""

    queryset = accounts_with_catalogue_size()
    serializer_class = CloudAccountSerializer
    filterset_class = filters.CloudAccountFilterSet
    ordering_fields = ["name", "region", "last_checked_at"]
    ordering = ["name"]

    @extend_schema(request=None, responses={202: JobAcceptedSerializer})
    @action(detail=True, methods=["post"], write_role=accounts.request_connection_test.role)
    def test(self, request, pk=None):
        """Test the credentials (sts GetCallerIdentity, ec2 DescribeRegions) as a job; the
        outcome lands on the job and on the account (last_check_ok, last_check_message)."""
        account = self.get_object()
        with transaction.atomic():
            job = accounts.request_connection_test(account, user=request.user)
        return job_accepted(job)

    @extend_schema(request=None, responses={202: JobAcceptedSerializer})
    @action(detail=True, methods=["post"], url_path="refresh-instance-types",
            write_role=accounts.request_catalogue_refresh.role)
    def refresh_instance_types(self, request, pk=None):
        """Reload the instance type catalogue of the account's region (describe_instance_types), as a job."""
        account = self.get_object()
        with transaction.atomic():
            job = accounts.request_catalogue_refresh(account, user=request.user)
        return job_accepted(job)


class InstanceTypeViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """EC2 instance types per region, as the accounts' describe_instance_types reported them."""

    queryset = InstanceType.objects.all()
    serializer_class = InstanceTypeSerializer
    filterset_class = filters.InstanceTypeFilterSet
    ordering_fields = ["name", "vcpus", "memory_mib", "family", "region"]


class DiskReplicationViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Disks replicated to EBS by block (cloud.services.replication): state, bytes sent and
    left, throughput, snapshot chain. Migration runs start and drive them."""

    queryset = DiskReplication.objects.prefetch_related("snapshots")
    serializer_class = DiskReplicationSerializer
    filterset_class = filters.DiskReplicationFilterSet
    ordering_fields = ["created_at", "updated_at", "name", "state"]
    ordering = ["-created_at"]


class PriceTableView(ApiViewMixin, APIView):
    """The price table of a region: AWS on-demand prices with their source and date."""

    @extend_schema(parameters=[PriceQuerySerializer], responses=PriceTableSerializer)
    def get(self, request):
        query = PriceQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        options = query.validated_data
        try:
            table = price_service.price_table(options["region"])
        except price_service.NoPriceTable as exc:
            raise NotFound(str(exc)) from exc
        family, engine = options.get("family"), options.get("engine")
        month = price_service.HOURS_PER_MONTH
        ec2 = [
            {**vars(entry), "family": entry.family, "monthly": entry.hourly * month}
            for entry in sorted(table.ec2.values(), key=lambda e: (e.family, e.vcpus, e.name))
            if not family or entry.family == family
        ]
        rds = [
            {"engine": name, **vars(entry), "monthly": entry.hourly * month}
            for name, classes in sorted(table.rds.items()) if not engine or name == engine
            for entry in sorted(classes.values(), key=lambda e: (e.hourly, e.name))
            if not family or entry.name.rsplit(".", 1)[0] == family
        ]
        data = {**table.describe(), "notes": list(table.notes), "ebs_gp3_gb_month": table.ebs_gp3_gb_month,
                "rds_gp3_gb_month": table.rds_gp3_gb_month, "regions": price_service.available_regions(),
                "ec2": ec2, "rds": rds}
        return Response(PriceTableSerializer(data).data)


class SizingPolicyView(ApiViewMixin, generics.RetrieveUpdateAPIView):
    """The default sizing policy (docs/cloud-migrations.md: its rules and numbers). Admins change it."""

    serializer_class = SizingPolicySerializer
    queryset = SizingPolicy.objects.all()  # whose required_roles the permission reads

    def get_object(self):
        return SizingPolicy.default()

    def perform_update(self, serializer):
        with transaction.atomic(), audited(self.request):
            serializer.save()


class OnPremCostModelViewSet(ApiViewMixin, AuditedMixin, viewsets.ModelViewSet):
    """What a workload costs per month on premises, per role and kind (host or VM)."""

    queryset = OnPremCostModel.objects.select_related("role")
    serializer_class = OnPremCostModelSerializer
    filterset_class = filters.OnPremCostModelFilterSet
    ordering_fields = ["name", "kind"]


class UtilisationViewSet(ApiViewMixin, AuditedMixin, viewsets.ModelViewSet):
    """Measured utilisation of hosts and VMs (p95 CPU and memory, max CPU, days of data)."""

    queryset = UtilisationRecord.objects.select_related("host", "vm")
    serializer_class = UtilisationRecordSerializer
    filterset_class = filters.UtilisationFilterSet
    ordering_fields = ["measured_at", "p95_cpu_percent", "max_cpu_percent"]
    write_role = Role.OPERATOR


class RecommendationsView(ApiViewMixin, APIView):
    """Right-size hosts and VMs: for each, the EC2 instance type or RDS class to use (or
    "retire"), why, and its monthly cost on premises against AWS on demand. Changes nothing."""

    write_role = Role.VIEWER

    @extend_schema(request=RecommendationRequestSerializer, responses=RecommendationResultSerializer)
    def post(self, request):
        ask = RecommendationRequestSerializer(data=request.data)
        ask.is_valid(raise_exception=True)
        options = ask.validated_data
        workloads = load_workloads(host_ids=options["hosts"], vm_ids=options["vms"])
        try:
            result = recommend(workloads, account=options.get("account"), region=options.get("region"),
                               policy_overrides=options.get("policy"))
        except price_service.NoPriceTable as exc:
            raise serializers.ValidationError({"region": [str(exc)]}) from exc
        return Response(RecommendationResultSerializer(result).data)
