"""Console pages of hypervisors and VMs.

Views read models and hand forms to templates; every action goes through its one
function in hypervisors.services.operations, whose role guards the page (core.actions)
and whose checks the forms run: the API calls the same functions.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.functional import cached_property
from django.views import View
from django.views.generic import DetailView, FormView, TemplateView
from django_filters.views import FilterView
from django_tables2 import RequestConfig, SingleTableMixin

from core.converters import parse_id
from core.mixins import ActionRequiredMixin, ReadOrWriteRoleMixin, ViewerRequiredMixin
from core.models import Job
from inventory.models import Role

from .filters import STALE_STATES, VirtualMachineFilterSet
from .forms import (
    POWER_LABELS,
    CreateVMForm,
    DeleteVMForm,
    EvacuationForm,
    ForgetVMForm,
    MigrateForm,
    PowerForm,
    ResizeForm,
    VMNameForm,
    VMRecordForm,
    add_refusal,
    migration_kind,
)
from .models import Hypervisor, VirtualMachine
from .placement import PACK, SPREAD
from .services import kinds, operations
from .services.capacity import hypervisor_usage, site_usage
from .services.locks import VMBusy
from .services.maintenance import evacuation_plan
from .services.preflight import EVACUABLE, Refused, allowed_power_actions, next_vm_name
from .tables import (
    HypervisorTable,
    HypervisorVMTable,
    VirtualMachineTable,
    hypervisor_bars,
    memory_text,
    ratio_text,
    site_bars,
)

RECENT_JOBS = 10
# A poll of the maintenance card tells the rest of the page (VM table, capacity) to refresh.
CHANGED_EVENT = "hypervisor-changed"


def jobs_targeting(obj, limit=RECENT_JOBS):
    return Job.objects.for_target(obj).select_related("created_by")[:limit]


def vm_queryset():
    """VMs with everything a list row shows, in a fixed number of queries."""
    return VirtualMachine.objects.select_related(
        "hypervisor__host", "role", "inventory_host", "busy_job"
    ).prefetch_related("tags")


# --- hypervisors --------------------------------------------------------------------


class HypervisorListView(ViewerRequiredMixin, TemplateView):
    template_name = "hypervisors/hypervisor_list.html"

    def get_context_data(self, **kwargs):
        usages = hypervisor_usage()
        table = HypervisorTable(usages)
        RequestConfig(self.request, paginate=False).configure(table)
        return super().get_context_data(
            table=table,
            sites=site_bars(site_usage()),
            vm_total=sum(u.vm_count for u in usages),
            unreachable=sum(u.hypervisor.connection == Hypervisor.Connection.UNREACHABLE for u in usages),
            last_sync=Job.objects.filter(kind=kinds.SYNC).first(),
            **kwargs,
        )


class SyncView(ActionRequiredMixin, View):
    """Sync one hypervisor (pk given) or all of them, as a Job."""

    performs = operations.request_sync

    def post(self, request, pk=None):
        hypervisor = get_object_or_404(Hypervisor.objects.select_related("host"), pk=pk) if pk else None
        job = operations.request_sync(user=request.user, hypervisor=hypervisor)
        return redirect("job_detail", pk=job.pk)


def latest_evacuation(hypervisor):
    return Job.objects.for_target(hypervisor).filter(kind=kinds.EVACUATE).order_by("-created_at", "-pk").first()


def maintenance_context(hypervisor):
    """What the maintenance card shows: the host's status and its latest evacuation,
    with one child job (one VM's migration) per progress bar."""
    evacuation = latest_evacuation(hypervisor)
    return {
        "hypervisor": hypervisor,
        "evacuation": evacuation,
        "children": list(evacuation.children.order_by("pk")) if evacuation else [],
        "evacuating": evacuation is not None and not evacuation.is_finished,
        "can_evacuate": hypervisor.host.status in EVACUABLE,
    }


def hypervisor_queryset():
    return Hypervisor.objects.select_related("host__site", "host__role")


class HypervisorDetailView(ViewerRequiredMixin, DetailView):
    template_name = "hypervisors/hypervisor_detail.html"
    context_object_name = "hypervisor"

    def get_queryset(self):
        return hypervisor_queryset()

    def get_context_data(self, **kwargs):
        hypervisor = self.object
        usage = hypervisor_usage(Hypervisor.objects.filter(pk=hypervisor.pk))[0]
        vms = HypervisorVMTable(vm_queryset().filter(hypervisor=hypervisor), prefix="vms-")
        RequestConfig(self.request, paginate=False).configure(vms)
        return super().get_context_data(
            usage=usage,
            bars=hypervisor_bars(usage),
            ratios=(ratio_text(hypervisor.cpu_overcommit), ratio_text(hypervisor.memory_overcommit)),
            memory=memory_text(hypervisor.memory_mib),
            vm_table=vms,
            stale_count=hypervisor.vms.filter(state__in=STALE_STATES).count(),
            jobs=jobs_targeting(hypervisor),
            **maintenance_context(hypervisor),
            **kwargs,
        )


class MaintenanceCardView(ViewerRequiredMixin, View):
    """HTMX: the maintenance card, polled every second while an evacuation runs."""

    def get(self, request, pk):
        hypervisor = get_object_or_404(hypervisor_queryset(), pk=pk)
        response = render(request, "hypervisors/_maintenance.html", {**maintenance_context(hypervisor), "oob": True})
        response["HX-Trigger"] = CHANGED_EVENT
        return response


class EvacuationPlanView(ReadOrWriteRoleMixin, FormView):
    """GET: where each VM would go (touches nothing). POST (operators): start the evacuation."""

    template_name = "hypervisors/evacuation_plan.html"
    form_class = EvacuationForm
    write_role = operations.request_evacuation.role

    @cached_property
    def hypervisor(self):
        # Loaded after the role check (dispatch), not before it.
        return get_object_or_404(hypervisor_queryset(), pk=self.kwargs["pk"])

    def chosen_policy(self):
        """The policy in the query (re-plan) or the form; spread unless a valid one was chosen."""
        policy = self.request.POST.get("policy") or self.request.GET.get("policy")
        return policy if policy in (SPREAD, PACK) else SPREAD

    def get_context_data(self, **kwargs):
        policy = self.chosen_policy()
        plan = evacuation_plan(self.hypervisor, policy)
        vms = VirtualMachine.objects.in_bulk([row["vm_id"] for row in plan["moves"] + plan["unplaced"]])
        evacuation = latest_evacuation(self.hypervisor)
        return super().get_context_data(
            hypervisor=self.hypervisor,
            policy=policy,
            moves=[{**move, "vm_obj": vms[move["vm_id"]]} for move in plan["moves"]],
            unplaced=[{**row, "vm_obj": vms[row["vm_id"]]} for row in plan["unplaced"]],
            staying=self.hypervisor.vms.select_related("busy_job")
            .exclude(state__in=[VirtualMachine.State.RUNNING, VirtualMachine.State.GONE])
            .order_by("name"),
            running_evacuation=evacuation if evacuation is not None and not evacuation.is_finished else None,
            can_evacuate=self.hypervisor.host.status in EVACUABLE,
            **kwargs,
        )

    def form_valid(self, form):
        hypervisor = self.hypervisor
        try:
            evacuation = operations.request_evacuation(hypervisor, user=self.request.user,
                                                       policy=form.cleaned_data["policy"],
                                                       parallel=form.cleaned_data["parallel"])
        except Refused as exc:
            add_refusal(form, exc)
            return self.form_invalid(form)
        messages.info(self.request, f"Evacuation of {hypervisor.name} started: "
                                    f"{len(evacuation.plan['moves'])} VM(s) to move.")
        return redirect(reverse("hypervisors:hypervisor_detail", args=[hypervisor.pk]) + "#maintenance")


class LeaveMaintenanceView(ActionRequiredMixin, View):
    performs = operations.end_maintenance

    def post(self, request, pk):
        hypervisor = get_object_or_404(hypervisor_queryset(), pk=pk)
        try:
            operations.end_maintenance(hypervisor, user=request.user)
        except Refused as exc:
            messages.error(request, f"{exc}.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            hypervisor.host.refresh_from_db()
            messages.success(request, f"{hypervisor.name} left maintenance and is "
                                      f"{hypervisor.host.get_status_display().lower()} again.")
        return redirect(hypervisor)


# --- VMs -------------------------------------------------------------------------------


class VMListView(ViewerRequiredMixin, SingleTableMixin, FilterView):
    filterset_class = VirtualMachineFilterSet
    table_class = VirtualMachineTable
    template_name = "hypervisors/vm_list.html"
    table_pagination = {"per_page": 50}  # the table's pages only: paginate_by paginated a second time (404s)

    def get_queryset(self):
        return vm_queryset()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["active_filters"] = any(self.request.GET.get(k) for k in self.filterset_class.Meta.fields)
        return context


def busy_job(vm):
    """The unfinished job holding the VM, if any."""
    job = vm.busy_job
    return job if job is not None and not job.is_finished else None


class VMDetailView(ReadOrWriteRoleMixin, DetailView):
    """The VM's facts from libvirt and its actions; operators also edit our own records
    (HA, anti-affinity, role, inventory link, owner, tags) here."""

    template_name = "hypervisors/vm_detail.html"
    context_object_name = "vm"

    def get_queryset(self):
        return vm_queryset()

    def post(self, request, *args, **kwargs):
        self.object = self.get_object()
        form = VMRecordForm(request.POST, instance=self.object)
        if form.is_valid():
            form.save()
            messages.success(request, f"Records of {self.object.name} saved.")
            return redirect(self.object)
        return self.render_to_response(self.get_context_data(record_form=form))

    def get_context_data(self, **kwargs):
        vm = self.object
        kwargs.setdefault("record_form", VMRecordForm(instance=vm))
        return super().get_context_data(
            power_actions=[(a, POWER_LABELS[a]) for a in allowed_power_actions(vm)],
            can_delete_vm=operations.request_delete.allowed(self.request.user),
            migration_kind=migration_kind(vm),
            busy=busy_job(vm),
            jobs=jobs_targeting(vm),
            **kwargs,
        )


class VMActionMixin(ActionRequiredMixin):
    """A form about one VM that ends in its action (`performs`): the form runs the action's
    checks; a refusal that arrives between the form and the action (a job queued meanwhile)
    shows on the form too."""

    @cached_property
    def vm(self):
        # Loaded after the role check (dispatch): a user below the role learns nothing of which VMs exist.
        return get_object_or_404(vm_queryset(), pk=self.kwargs["pk"])

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "vm": self.vm}

    def get_context_data(self, **kwargs):
        return super().get_context_data(vm=self.vm, busy=busy_job(self.vm), **kwargs)

    def form_valid(self, form):
        try:
            outcome = self.perform(form.cleaned_data)
        except (Refused, VMBusy) as exc:
            add_refusal(form, exc, getattr(form, "refusal_fields", None))
            return self.form_invalid(form)
        return self.done(outcome)

    def done(self, job):
        return redirect("job_detail", pk=job.pk)


class VMPowerView(VMActionMixin, FormView):
    form_class = PowerForm
    http_method_names = ["post"]
    performs = operations.request_power

    def form_invalid(self, form):
        # The buttons live on the VM page: say what was wrong there.
        messages.error(self.request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(self.vm)

    def perform(self, data):
        return operations.request_power(self.vm, data["action"], user=self.request.user, timeout=data["timeout"])


class VMMigrateView(VMActionMixin, FormView):
    form_class = MigrateForm
    template_name = "hypervisors/vm_migrate.html"
    performs = operations.request_migration

    def get_form(self, form_class=None):
        self.form = super().get_form(form_class)
        return self.form

    def perform(self, data):
        return operations.request_migration(self.vm, user=self.request.user, target=data["target_hypervisor"],
                                            options=self.form.live_options()).job


class VMResizeView(VMActionMixin, FormView):
    form_class = ResizeForm
    template_name = "hypervisors/vm_resize.html"
    performs = operations.request_resize

    def perform(self, data):
        return operations.request_resize(self.vm, data["vcpus"], data["memory_mib"], user=self.request.user)


class VMDeleteView(VMActionMixin, FormView):
    form_class = DeleteVMForm
    template_name = "hypervisors/vm_delete.html"
    performs = operations.request_delete

    def perform(self, data):
        return operations.request_delete(self.vm, data["confirm_name"], user=self.request.user,
                                         delete_disks=data["delete_disks"])


class VMForgetView(VMActionMixin, FormView):
    """Remove the record of a VM the sync found gone from libvirt (instant, no job)."""

    form_class = ForgetVMForm
    template_name = "hypervisors/vm_forget.html"
    performs = operations.forget_vm

    def get_context_data(self, **kwargs):
        refusal = None
        if self.vm.state != VirtualMachine.State.GONE:
            refusal = ForgetVMForm({"confirm_name": self.vm.name}, vm=self.vm)
            refusal = " ".join(refusal.non_field_errors()) if not refusal.is_valid() else None
        return super().get_context_data(refusal=refusal, **kwargs)

    def perform(self, data):
        return operations.forget_vm(self.vm, data["confirm_name"].strip(), user=self.request.user)

    def done(self, name):
        messages.success(self.request, f"The record of {name} is forgotten; the change log keeps it.")
        return redirect("hypervisors:vm_list")


class VMCreateView(ActionRequiredMixin, FormView):
    form_class = CreateVMForm
    template_name = "hypervisors/vm_form.html"
    performs = operations.request_create

    def get_initial(self):
        initial = super().get_initial()
        for key in ("hypervisor", "role"):
            if parse_id(self.request.GET.get(key)) is not None:
                initial[key] = parse_id(self.request.GET[key])
        return initial

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        role_pk = context["form"]["role"].value()
        role = Role.objects.filter(pk=parse_id(role_pk)).first()
        context["suggested_name"] = next_vm_name(role)
        return context

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            job = operations.request_create(
                data["hypervisor"], user=self.request.user, vcpus=data["vcpus"], memory_mib=data["memory_mib"],
                name=data["name"], role=data["role"], disk_gib=data["disk_gib"],
                storage_dir=data["storage_dir"] or None, start_vm=data["start"])
        except Refused as exc:
            add_refusal(form, exc)
            return self.form_invalid(form)
        return redirect("job_detail", pk=job.pk)


class VMSuggestNameView(ActionRequiredMixin, View):
    """HTMX: the name input, filled with the chosen role's next free name."""

    performs = operations.request_create

    def get(self, request):
        role_pk = request.GET.get("role", "")
        role = Role.objects.select_related("naming_scheme").filter(pk=parse_id(role_pk)).first()
        suggested = next_vm_name(role)
        form = VMNameForm(initial={"name": suggested or request.GET.get("name", "")})
        return render(request, "hypervisors/_vm_name_input.html",
                      {"form": form, "role": role, "suggested_name": suggested})
