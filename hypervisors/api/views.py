"""Hypervisors and VMs. Reading needs the viewer role; hypervisor records are the
admins'. Every action is its function in hypervisors.services.operations, which declares
its role and checks the request at once: 202 with the job to follow, 400 saying why it
cannot be done, 409 while another job holds the VM. The console calls the same functions."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.accepted import JobAcceptedSerializer, job_accepted, validated
from core.api.audit import AuditedMixin
from core.api.exceptions import Conflict
from core.api.schema import VALIDATION_ERROR_SCHEMA, ErrorDetailSerializer
from core.api.views import ApiViewMixin
from core.roles import Role as ConsoleRole

from ..models import Hypervisor, VirtualMachine
from ..services import capacity, maintenance, operations, preflight
from ..services.locks import VMBusy
from . import filters
from .serializers import (
    CreateAcceptedSerializer,
    CreateVMSerializer,
    DeleteSerializer,
    EvacuationPlanSerializer,
    ForgetSerializer,
    ForgottenSerializer,
    HypervisorSerializer,
    MaintenanceAcceptedSerializer,
    MaintenanceSerializer,
    MigrateSerializer,
    MigrationAcceptedSerializer,
    PolicyQuerySerializer,
    PowerSerializer,
    ResizeSerializer,
    SiteCapacitySerializer,
    VirtualMachineSerializer,
)

ACCEPTED = {202: JobAcceptedSerializer, 409: ErrorDetailSerializer}


class HypervisorsApiMixin(ApiViewMixin):
    """Refusals of the services become answers: 400 with the reason on the field it is
    about, 409 when another job holds the VM."""

    def handle_exception(self, exc):
        if isinstance(exc, preflight.Refused):
            exc = serializers.ValidationError({exc.field: [str(exc)]})
        elif isinstance(exc, VMBusy):
            exc = Conflict(str(exc))
        return super().handle_exception(exc)


class HypervisorViewSet(HypervisorsApiMixin, AuditedMixin, viewsets.ModelViewSet):
    """libvirt hypervisors, each an inventory host, with what their VMs take of them."""

    # Aggregating queries ignore Meta.ordering: order explicitly.
    queryset = capacity.with_usage(Hypervisor.objects.all()).order_by("host__hostname")
    serializer_class = HypervisorSerializer
    filterset_class = filters.HypervisorFilterSet
    ordering_fields = ["host__hostname", "connection", "last_seen", "vm_count", "vcpus_used", "memory_used"]
    write_role = ConsoleRole.ADMIN
    delete_role = ConsoleRole.ADMIN

    @extend_schema(request=None, responses=ACCEPTED)
    @action(detail=True, methods=["post"], write_role=operations.request_sync.role)
    def sync(self, request, pk=None):
        """Read the hypervisor's domains now and reconcile its VMs (a job)."""
        return job_accepted(operations.request_sync(user=request.user, hypervisor=self.get_object()))

    @extend_schema(operation_id="hypervisors_hypervisors_sync_all", request=None, responses=ACCEPTED)
    @action(detail=False, methods=["post"], url_path="sync", url_name="sync-all",
            write_role=operations.request_sync.role)
    def sync_all(self, request):
        """Sync every enabled hypervisor (a job)."""
        return job_accepted(operations.request_sync(user=request.user))

    @extend_schema(parameters=[PolicyQuerySerializer], responses=EvacuationPlanSerializer)
    @action(detail=True, methods=["get"], url_path="evacuation-plan")
    def evacuation_plan(self, request, pk=None):
        """Where each running VM would go if the hypervisor were emptied now. Changes nothing."""
        hypervisor = self.get_object()
        policy = validated(PolicyQuerySerializer, request.query_params)["policy"]
        return Response(EvacuationPlanSerializer(maintenance.evacuation_plan(hypervisor, policy)).data)

    @extend_schema(request=MaintenanceSerializer,
                   responses={202: MaintenanceAcceptedSerializer, 409: ErrorDetailSerializer})
    @action(detail=True, methods=["post"], write_role=operations.request_evacuation.role)
    def maintenance(self, request, pk=None):
        """Enter maintenance: live-migrate every VM away, `parallel` at a time, and leave the
        host in status maintenance (a job; refused at once when the plan cannot place a VM)."""
        options = validated(MaintenanceSerializer, request.data)
        evacuation = operations.request_evacuation(self.get_object(), user=request.user, **options)
        return job_accepted(evacuation.job, moves=len(evacuation.plan["moves"]))

    @extend_schema(request=None, responses=HypervisorSerializer)
    @action(detail=True, methods=["post"], url_path="leave-maintenance",
            write_role=operations.end_maintenance.role)
    def leave_maintenance(self, request, pk=None):
        """Return the host from maintenance (at once: there is nothing to wait for)."""
        operations.end_maintenance(self.get_object(), user=request.user)
        return Response(self.get_serializer(self.get_object()).data)


class CapacityView(ApiViewMixin, APIView):
    """Per site: vCPU and memory capacity (under overcommit) against what VMs take."""

    @extend_schema(responses=SiteCapacitySerializer(many=True))
    def get(self, request):
        rows = [
            {"site": site, **totals, "vcpu_percent": _percent(totals["vcpus_used"], totals["vcpus"]),
             "memory_percent": _percent(totals["memory_used_mib"], totals["memory_mib"])}
            for site, totals in sorted(capacity.site_usage().items())
        ]
        return Response(SiteCapacitySerializer(rows, many=True).data)


def _percent(used, total):
    return round(100 * used / total) if total else 0


class VirtualMachineViewSet(HypervisorsApiMixin, AuditedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                            mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """VMs as libvirt last reported them (written by the sync, read-only here), plus
    what we know of them (PATCH). Power, migration, resize, create and delete are jobs."""

    queryset = VirtualMachine.objects.select_related(
        "hypervisor__host", "role", "inventory_host", "busy_job"
    ).prefetch_related("tags")
    serializer_class = VirtualMachineSerializer
    filterset_class = filters.VirtualMachineApiFilterSet
    ordering_fields = ["name", "state", "vcpus", "memory_mib", "hypervisor__host__hostname", "last_seen",
                       "state_changed_at"]
    http_method_names = ["get", "patch", "post", "delete", "head", "options"]
    write_role = ConsoleRole.OPERATOR  # our own records of a VM (PATCH)
    delete_role = operations.request_delete.role  # deleting a VM is one of its actions: a job, with confirmation

    @extend_schema(request=PowerSerializer, responses=ACCEPTED)
    @action(detail=True, methods=["post"], write_role=operations.request_power.role)
    def power(self, request, pk=None):
        """start, shutdown (graceful, forced off after `timeout` s), reboot or force-off."""
        options = validated(PowerSerializer, request.data)
        return job_accepted(operations.request_power(self.get_object(), options["action"], user=request.user,
                                                     timeout=options.get("timeout", 120)))

    @extend_schema(request=MigrateSerializer, responses={202: MigrationAcceptedSerializer, 409: ErrorDetailSerializer})
    @action(detail=True, methods=["post"], write_role=operations.request_migration.role)
    def migrate(self, request, pk=None):
        """Move the VM to `target`, or to where the placement planner puts it: live (with
        progress, cancel and a time limit) or, for a shut-off VM, cold."""
        options = validated(MigrateSerializer, request.data)
        moved = operations.request_migration(self.get_object(), user=request.user, target=options["target"],
                                             live=options["live"], policy=options["policy"], options=options)
        return job_accepted(moved.job, target=moved.target.pk, target_name=moved.target.name, live=moved.live)

    @extend_schema(request=ResizeSerializer, responses=ACCEPTED)
    @action(detail=True, methods=["post"], write_role=operations.request_resize.role)
    def resize(self, request, pk=None):
        """Change vCPUs and memory of a shut-off VM."""
        options = validated(ResizeSerializer, request.data)
        return job_accepted(operations.request_resize(self.get_object(), options["vcpus"], options["memory_mib"],
                                                      user=request.user))

    @extend_schema(
        parameters=[OpenApiParameter("confirm", str, description="The VM's name (or in the body)"),
                    OpenApiParameter("delete_disks", bool, description="Also delete its disk volumes")],
        request=DeleteSerializer, responses={**ACCEPTED, 400: VALIDATION_ERROR_SCHEMA},
    )
    def destroy(self, request, pk=None):
        """Undefine the VM (forced off first), with its disks when `delete_disks=true`.
        Confirm with `confirm=<VM name>` in the query or the body. A job."""
        body = request.data if isinstance(request.data, dict) else {}
        options = validated(DeleteSerializer, {**request.query_params.dict(), **body})
        return job_accepted(operations.request_delete(self.get_object(), options["confirm"], user=request.user,
                                                      delete_disks=options["delete_disks"]))

    @extend_schema(request=ForgetSerializer, responses={200: ForgottenSerializer, 400: VALIDATION_ERROR_SCHEMA,
                                                         409: ErrorDetailSerializer})
    @action(detail=True, methods=["post"], write_role=operations.forget_vm.role)
    def forget(self, request, pk=None):
        """Remove the record of a VM the sync found gone from libvirt (state `gone`), with
        `confirm=<VM name>`. Refused (400) for any VM libvirt still has or may have."""
        options = validated(ForgetSerializer, request.data)
        name = operations.forget_vm(self.get_object(), options["confirm"], user=request.user)
        return Response({"forgotten": name, "id": int(pk)})

    @extend_schema(request=CreateVMSerializer, responses={202: CreateAcceptedSerializer})
    @action(detail=False, methods=["post"], url_path="create", url_name="create",
            write_role=operations.request_create.role)
    def create_vm(self, request):
        """Define (and start) a new VM from the built-in template on a hypervisor; its name,
        when not given, is the next free one of the role's naming scheme."""
        options = validated(CreateVMSerializer, request.data)
        job = operations.request_create(
            options["hypervisor"], user=request.user, vcpus=options["vcpus"], memory_mib=options["memory_mib"],
            name=options.get("name") or None, role=options.get("role"), disk_gib=options["disk_gib"],
            storage_dir=options.get("storage_dir") or None, start_vm=options["start"])
        return job_accepted(job, name=job.params["name"])
