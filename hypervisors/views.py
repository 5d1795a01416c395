"""Console pages of hypervisors and VMs.

Views read models, hand forms to templates and start Jobs; everything that changes a
VM or a hypervisor runs in a Job through hypervisors.tasks, which call the services.
"""

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.functional import cached_property
from django.views import View
from django.views.generic import DetailView, FormView, TemplateView
from django_filters.views import FilterView
from django_tables2 import RequestConfig, SingleTableMixin

from core.converters import parse_id
from core.jobs import create_job, enqueue
from core.mixins import AdminRequiredMixin, OperatorRequiredMixin, ReadOrWriteRoleMixin, ViewerRequiredMixin
from core.models import Job
from inventory.models import HostStatus, Role

from . import tasks
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
    allowed_power_actions,
    migration_kind,
    suggest_vm_name,
)
from .models import Hypervisor, VirtualMachine
from .placement import PACK, SPREAD
from .services.capacity import hypervisor_usage, site_usage
from .services.maintenance import evacuation_plan, leave_maintenance
from .services.records import forget_stale_vm
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
# Statuses from which a hypervisor may be (re-)emptied; the lifecycle allows maintenance from these.
EVACUABLE = (HostStatus.ACTIVE, HostStatus.SPARE, HostStatus.MAINTENANCE)
# A poll of the maintenance card tells the rest of the page (VM table, capacity) to refresh.
CHANGED_EVENT = "hypervisor-changed"


def launch(request, task, title, params, target=None):
    """Create the Job for `task` (its name is the job kind) and send it once committed."""
    job = create_job(task.name, title, user=request.user, params=params, target=target)
    enqueue(job, task)
    return job


def jobs_targeting(obj, limit=RECENT_JOBS):
    return Job.objects.filter(
        target_type=ContentType.objects.get_for_model(obj), target_id=str(obj.pk)
    ).select_related("created_by")[:limit]


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
            last_sync=Job.objects.filter(kind=tasks.sync_job.name).first(),
            **kwargs,
        )


class SyncView(OperatorRequiredMixin, View):
    """Sync one hypervisor (pk given) or all of them, as a Job."""

    def post(self, request, pk=None):
        if pk is None:
            job = launch(request, tasks.sync_job, "Sync all hypervisors", {})
        else:
            hypervisor = get_object_or_404(Hypervisor.objects.select_related("host"), pk=pk)
            job = launch(request, tasks.sync_job, f"Sync {hypervisor.name}", {"hypervisor_id": hypervisor.pk},
                         target=hypervisor)
        return redirect("job_detail", pk=job.pk)


def latest_evacuation(hypervisor):
    return (
        Job.objects.filter(kind=tasks.evacuate_job.name, target_type=ContentType.objects.get_for_model(Hypervisor),
                           target_id=str(hypervisor.pk))
        .order_by("-created_at", "-pk")
        .first()
    )


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
        current = latest_evacuation(hypervisor)
        if current is not None and not current.is_finished:
            form.add_error(None, f"Evacuation job #{current.pk} is still running; wait for it or cancel it.")
            return self.form_invalid(form)
        if hypervisor.host.status not in EVACUABLE:
            form.add_error(None, f"{hypervisor.name} is {hypervisor.host.get_status_display().lower()}; "
                                 "only an active, spare or maintenance host can be emptied.")
            return self.form_invalid(form)
        plan = evacuation_plan(hypervisor, form.cleaned_data["policy"])
        if plan["unplaced"]:
            form.add_error(None, f"{len(plan['unplaced'])} VM(s) cannot be placed anywhere: nothing was started.")
            return self.form_invalid(form)
        launch(self.request, tasks.evacuate_job, f"Evacuate {hypervisor.name} for maintenance",
               {"hypervisor_id": hypervisor.pk, "policy": form.cleaned_data["policy"],
                "parallel": form.cleaned_data["parallel"]}, target=hypervisor)
        messages.info(self.request, f"Evacuation of {hypervisor.name} started: {len(plan['moves'])} VM(s) to move.")
        return redirect(reverse("hypervisors:hypervisor_detail", args=[hypervisor.pk]) + "#maintenance")


class LeaveMaintenanceView(OperatorRequiredMixin, View):
    def post(self, request, pk):
        hypervisor = get_object_or_404(hypervisor_queryset(), pk=pk)
        current = latest_evacuation(hypervisor)
        if hypervisor.host.status != HostStatus.MAINTENANCE:
            messages.warning(request, f"{hypervisor.name} is not in maintenance.")
        elif current is not None and not current.is_finished:
            messages.error(request, f"Evacuation job #{current.pk} is still running; cancel it or let it finish first.")
        else:
            try:
                leave_maintenance(hypervisor, user=request.user)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, f"{hypervisor.name} left maintenance and is active again.")
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
            migration_kind=migration_kind(vm),
            busy=busy_job(vm),
            jobs=jobs_targeting(vm),
            **kwargs,
        )


class VMActionMixin:
    """A form about one VM that ends in a Job: refused while another job holds the VM."""

    def dispatch(self, request, *args, **kwargs):
        self.vm = get_object_or_404(vm_queryset(), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "vm": self.vm}

    def get_context_data(self, **kwargs):
        return super().get_context_data(vm=self.vm, busy=busy_job(self.vm), **kwargs)

    def form_valid(self, form):
        holder = busy_job(self.vm)
        if holder is not None:
            form.add_error(None, f"{self.vm.name} is busy with job #{holder.pk} ({holder.title}); wait for it first.")
            return self.form_invalid(form)
        job = self.start_job(form)
        return redirect("job_detail", pk=job.pk)


class VMPowerView(OperatorRequiredMixin, VMActionMixin, FormView):
    form_class = PowerForm
    http_method_names = ["post"]

    def form_invalid(self, form):
        # The buttons live on the VM page: say what was wrong there.
        messages.error(self.request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(self.vm)

    def start_job(self, form):
        action = form.cleaned_data["action"]
        params = {"vm_id": self.vm.pk, "action": action}
        if action == "shutdown":
            params["timeout"] = form.cleaned_data["timeout"]
        return launch(self.request, tasks.power_job, f"{POWER_LABELS[action]} {self.vm.name}", params, target=self.vm)


class VMMigrateView(OperatorRequiredMixin, VMActionMixin, FormView):
    form_class = MigrateForm
    template_name = "hypervisors/vm_migrate.html"

    def start_job(self, form):
        target = form.cleaned_data["target_hypervisor"]
        task = tasks.live_migrate_job if form.kind == "live" else tasks.cold_migrate_job
        return launch(self.request, task, f"Migrate {self.vm.name} to {target.name} ({form.kind})",
                      form.job_params(), target=self.vm)


class VMResizeView(OperatorRequiredMixin, VMActionMixin, FormView):
    form_class = ResizeForm
    template_name = "hypervisors/vm_resize.html"

    def start_job(self, form):
        data = form.cleaned_data
        return launch(self.request, tasks.resize_job,
                      f"Resize {self.vm.name} to {data['vcpus']} vCPU, {data['memory_mib']} MiB",
                      {"vm_id": self.vm.pk, "vcpus": data["vcpus"], "memory_mib": data["memory_mib"]}, target=self.vm)


class VMDeleteView(AdminRequiredMixin, VMActionMixin, FormView):
    form_class = DeleteVMForm
    template_name = "hypervisors/vm_delete.html"

    def start_job(self, form):
        disks = form.cleaned_data["delete_disks"]
        return launch(self.request, tasks.delete_vm_job,
                      f"Delete {self.vm.name}" + (" and its disks" if disks else ""),
                      {"vm_id": self.vm.pk, "delete_disks": disks}, target=self.vm)


class VMForgetView(OperatorRequiredMixin, FormView):
    """Remove the record of a VM the sync found gone from libvirt (instant, no job)."""

    form_class = ForgetVMForm
    template_name = "hypervisors/vm_forget.html"

    def dispatch(self, request, *args, **kwargs):
        self.vm = get_object_or_404(vm_queryset(), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "vm": self.vm}

    def get_context_data(self, **kwargs):
        refusal = None
        if self.vm.state != VirtualMachine.State.GONE:
            refusal = ForgetVMForm({"confirm_name": self.vm.name}, vm=self.vm)
            refusal = " ".join(refusal.non_field_errors()) if not refusal.is_valid() else None
        return super().get_context_data(vm=self.vm, busy=busy_job(self.vm), refusal=refusal, **kwargs)

    def form_valid(self, form):
        name = forget_stale_vm(self.vm, form.cleaned_data["confirm_name"].strip(), user=self.request.user)
        messages.success(self.request, f"The record of {name} is forgotten; the change log keeps it.")
        return redirect("hypervisors:vm_list")


class VMCreateView(OperatorRequiredMixin, FormView):
    form_class = CreateVMForm
    template_name = "hypervisors/vm_form.html"

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
        context["suggested_name"] = suggest_vm_name(role)
        return context

    def form_valid(self, form):
        data = form.cleaned_data
        job = launch(self.request, tasks.create_vm_job, f"Create VM {data['name']} on {data['hypervisor'].name}",
                     form.job_params(), target=data["hypervisor"])
        return redirect("job_detail", pk=job.pk)


class VMSuggestNameView(OperatorRequiredMixin, View):
    """HTMX: the name input, filled with the chosen role's next free name."""

    def get(self, request):
        role_pk = request.GET.get("role", "")
        role = Role.objects.select_related("naming_scheme").filter(pk=parse_id(role_pk)).first()
        suggested = suggest_vm_name(role)
        form = VMNameForm(initial={"name": suggested or request.GET.get("name", "")})
        return render(request, "hypervisors/_vm_name_input.html",
                      {"form": form, "role": role, "suggested_name": suggested})
