"""Hypervisors and VMs. Reading needs the viewer role; hypervisor records are the
admins'; VM actions, syncs and maintenance are the operators'. Every action is a Job:
its request is checked at once (hypervisors.services.preflight) and answered 202 with
the job to follow, or 400 saying why it cannot be done (409 while another job holds the VM)."""

from django.db import transaction
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
from core.jobs import create_job, enqueue
from core.roles import Role as ConsoleRole

from .. import tasks
from ..models import Hypervisor, VirtualMachine
from ..services import capacity, maintenance, preflight, records
from ..services.locks import VMBusy
from . import filters
from .serializers import (
    CreateAcceptedSerializer,
    CreateVMSerializer,
    DeleteSerializer,
    ForgetSerializer,
    ForgottenSerializer,
    EvacuationPlanSerializer,
    HypervisorSerializer,
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


def start_job(request, kind, title, task, subject, params, **extra):
    """Create the Job working on `subject`, send its task once committed, and answer 202
    with where to follow it (plus `extra` facts for the client)."""
    with transaction.atomic():
        job = create_job(kind, title, user=request.user, params=params, target=subject)
        enqueue(job, task)
    return job_accepted(job, **extra)


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
    lookup_value_regex = r"[0-9]+"
    write_role = ConsoleRole.ADMIN
    delete_role = ConsoleRole.ADMIN

    @extend_schema(request=None, responses=ACCEPTED)
    @action(detail=True, methods=["post"], write_role=ConsoleRole.OPERATOR)
    def sync(self, request, pk=None):
        """Read the hypervisor's domains now and reconcile its VMs (a job)."""
        hypervisor = self.get_object()
        return start_job(request, "hypervisors.sync", f"Sync {hypervisor.name}", tasks.sync_job, hypervisor,
                         {"hypervisor_id": hypervisor.pk})

    @extend_schema(operation_id="hypervisors_hypervisors_sync_all", request=None, responses=ACCEPTED)
    @action(detail=False, methods=["post"], url_path="sync", url_name="sync-all", write_role=ConsoleRole.OPERATOR)
    def sync_all(self, request):
        """Sync every enabled hypervisor (a job)."""
        return start_job(request, "hypervisors.sync", "Sync all hypervisors", tasks.sync_job, None, {})

    @extend_schema(parameters=[PolicyQuerySerializer], responses=EvacuationPlanSerializer)
    @action(detail=True, methods=["get"], url_path="evacuation-plan")
    def evacuation_plan(self, request, pk=None):
        """Where each running VM would go if the hypervisor were emptied now. Changes nothing."""
        hypervisor = self.get_object()
        policy = validated(PolicyQuerySerializer, request.query_params)["policy"]
        return Response(EvacuationPlanSerializer(maintenance.evacuation_plan(hypervisor, policy)).data)

    @extend_schema(request=MaintenanceSerializer, responses=ACCEPTED)
    @action(detail=True, methods=["post"], write_role=ConsoleRole.OPERATOR)
    def maintenance(self, request, pk=None):
        """Enter maintenance: live-migrate every VM away, `parallel` at a time, and leave the
        host in status maintenance (a job; refused at once when the plan cannot place a VM)."""
        hypervisor = self.get_object()
        options = validated(MaintenanceSerializer, request.data)
        plan = preflight.check_evacuation(hypervisor, options["policy"])
        return start_job(request, preflight.EVACUATE, f"Evacuate {hypervisor.name} for maintenance",
                         tasks.evacuate_job, hypervisor, {"hypervisor_id": hypervisor.pk, **options},
                         moves=len(plan["moves"]))

    @extend_schema(request=None, responses=HypervisorSerializer)
    @action(detail=True, methods=["post"], url_path="leave-maintenance", write_role=ConsoleRole.OPERATOR)
    def leave_maintenance(self, request, pk=None):
        """Return the host from maintenance to active (at once: there is nothing to wait for)."""
        hypervisor = self.get_object()
        preflight.check_leave_maintenance(hypervisor)
        maintenance.leave_maintenance(hypervisor, user=request.user)
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
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "patch", "post", "delete", "head", "options"]
    write_role = ConsoleRole.OPERATOR
    delete_role = ConsoleRole.OPERATOR  # deleting a VM is one of its actions: a job, with confirmation

    @extend_schema(request=PowerSerializer, responses=ACCEPTED)
    @action(detail=True, methods=["post"])
    def power(self, request, pk=None):
        """start, shutdown (graceful, forced off after `timeout` s), reboot or force-off."""
        vm = self.get_object()
        options = validated(PowerSerializer, request.data)
        preflight.check_power(vm, options["action"])
        return start_job(request, "hypervisors.power", f"{options['action'].capitalize()} {vm.name}",
                         tasks.power_job, vm, {"vm_id": vm.pk, **options})

    @extend_schema(request=MigrateSerializer, responses={202: MigrationAcceptedSerializer, 409: ErrorDetailSerializer})
    @action(detail=True, methods=["post"])
    def migrate(self, request, pk=None):
        """Move the VM to `target`, or to where the placement planner puts it: live (with
        progress, cancel and a time limit) or, for a shut-off VM, cold."""
        vm = self.get_object()
        options = validated(MigrateSerializer, request.data)
        target, live = preflight.plan_migration(vm, options["target"], options["live"], options["policy"])
        params = {"vm_id": vm.pk, "target_id": target.pk}
        if live:
            params.update({key: options[key] for key in ("auto_converge", "bandwidth_mib_s", "time_limit_s")})
        kind, task = ("hypervisors.live_migrate", tasks.live_migrate_job) if live else \
            ("hypervisors.cold_migrate", tasks.cold_migrate_job)
        title = f"{'Live-migrate' if live else 'Cold-migrate'} {vm.name} to {target.name}"
        return start_job(request, kind, title, task, vm, params, target=target.pk, target_name=target.name, live=live)

    @extend_schema(request=ResizeSerializer, responses=ACCEPTED)
    @action(detail=True, methods=["post"])
    def resize(self, request, pk=None):
        """Change vCPUs and memory of a shut-off VM."""
        vm = self.get_object()
        options = validated(ResizeSerializer, request.data)
        preflight.check_resize(vm, options["vcpus"], options["memory_mib"])
        return start_job(request, "hypervisors.resize", f"Resize {vm.name}", tasks.resize_job, vm,
                         {"vm_id": vm.pk, **options})

    @extend_schema(
        parameters=[OpenApiParameter("confirm", str, description="The VM's name (or in the body)"),
                    OpenApiParameter("delete_disks", bool, description="Also delete its disk volumes")],
        request=DeleteSerializer, responses={**ACCEPTED, 400: VALIDATION_ERROR_SCHEMA},
    )
    def destroy(self, request, pk=None):
        """Undefine the VM (forced off first), with its disks when `delete_disks=true`.
        Confirm with `confirm=<VM name>` in the query or the body. A job."""
        vm = self.get_object()
        body = request.data if isinstance(request.data, dict) else {}
        options = validated(DeleteSerializer, {**request.query_params.dict(), **body})
        preflight.check_delete(vm, options["confirm"])
        return start_job(request, "hypervisors.delete_vm", f"Delete {vm.name}", tasks.delete_vm_job, vm,
                         {"vm_id": vm.pk, "delete_disks": options["delete_disks"]})

    @extend_schema(request=ForgetSerializer, responses={200: ForgottenSerializer, 400: VALIDATION_ERROR_SCHEMA,
                                                         409: ErrorDetailSerializer})
    @action(detail=True, methods=["post"])
    def forget(self, request, pk=None):
        """Remove the record of a VM the sync found gone from libvirt (state `gone`), with
        `confirm=<VM name>`. Refused (400) for any VM libvirt still has or may have."""
        vm = self.get_object()
        options = validated(ForgetSerializer, request.data)
        name = records.forget_stale_vm(vm, options["confirm"], user=request.user)
        return Response({"forgotten": name, "id": int(pk)})

    @extend_schema(request=CreateVMSerializer, responses={202: CreateAcceptedSerializer})
    @action(detail=False, methods=["post"], url_path="create", url_name="create")
    def create_vm(self, request):
        """Define (and start) a new VM from the built-in template on a hypervisor; its name,
        when not given, is the next free one of the role's naming scheme."""
        options = validated(CreateVMSerializer, request.data)
        hypervisor, role = options["hypervisor"], options.get("role")
        name = preflight.prepare_create(hypervisor, options["vcpus"], options["memory_mib"],
                                        options.get("name"), role)
        params = {
            "hypervisor_id": hypervisor.pk, "role_id": role.pk if role else None, "name": name,
            "vcpus": options["vcpus"], "memory_mib": options["memory_mib"], "disk_gib": options["disk_gib"],
            "storage_dir": options.get("storage_dir") or None, "start": options["start"],
        }
        return start_job(request, "hypervisors.create_vm", f"Create {name} on {hypervisor.name}",
                         tasks.create_vm_job, hypervisor, params, name=name)
