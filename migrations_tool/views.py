"""Console pages of migrations: the plan list, the wizard (pick workloads → assessment →
waves and dependencies → account and network targets → review and start) and the run
page with its controls. Views read models and call services; runs execute as jobs."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import TemplateView

from cloud.services.prices import NoPriceTable
from cloud.services.workloads import HOST, VM, load_workloads, select_workloads
from core.converters import parse_id
from core.mixins import ActionRequiredMixin, OperatorRequiredMixin, ReadOrWriteRoleMixin, ViewerRequiredMixin
from core.roles import Role, has_role

from .forms import DependencyForm, NewPlanForm, PickForm, TargetsForm, WaveMoveForm, WorkloadForm, WorkloadTargetForm
from .models import Dependency, MigrationPlan, PlannedWorkload, Run, Wave
from .services import plans, runs, waves
from .services.assessment import assess

MAX_PICKED = 500  # rows on the pick page
HOST_CARD_MOVES = 5  # on a host page: the latest plans that move it
WIZARD = [("pick", "Workloads"), ("assessment", "Assessment"), ("waves", "Waves"), ("targets", "Targets"),
          ("review", "Review")]


def can_operate(request):
    return has_role(request.user, Role.OPERATOR)


def plan_context(request, plan, step):
    return {"plan": plan, "wizard": WIZARD, "step": step, "can_operate": can_operate(request),
            "runs": plan.runs.select_related("job")[:5]}


class PlanListView(ViewerRequiredMixin, TemplateView):
    template_name = "migrations_tool/plan_list.html"

    def get_context_data(self, **kwargs):
        plans_ = MigrationPlan.objects.select_related("account", "created_by").annotate(
            workload_count=Count("workloads", distinct=True), last_run=Max("runs__id"))
        return super().get_context_data(plans=plans_, can_operate=can_operate(self.request), **kwargs)


# --- step 1: pick -------------------------------------------------------------------------------


class PickView(OperatorRequiredMixin, View):
    template_name = "migrations_tool/pick.html"

    def candidates(self, filters):
        kind = filters.get("kind") or "both"
        kinds = {"hosts": (HOST,), "vms": (VM,)}.get(kind, (HOST, VM))
        site, role, tag = (filters.get(name).slug if filters.get(name) else None for name in ("site", "role", "tag"))
        workloads, truncated = select_workloads(kinds=kinds, site=site, role=role, tag=tag, limit=MAX_PICKED)
        return workloads, truncated

    def render_page(self, request, pick, form, workloads, truncated):
        return render(request, self.template_name, {
            "pick": pick, "form": form, "workloads": workloads, "truncated": truncated, "max_picked": MAX_PICKED,
            "wizard": WIZARD, "step": "pick"})

    def get(self, request):
        pick = PickForm(request.GET or None)
        filters = pick.cleaned_data if pick.is_bound and pick.is_valid() else {}
        workloads, truncated = self.candidates(filters)
        return self.render_page(request, pick, NewPlanForm(), workloads, truncated)

    def post(self, request):
        pick = PickForm(request.GET or None)
        filters = pick.cleaned_data if pick.is_bound and pick.is_valid() else {}
        workloads, truncated = self.candidates(filters)
        form = NewPlanForm(request.POST, host_choices=[(w.id, w.name) for w in workloads if w.kind == HOST],
                           vm_choices=[(w.id, w.name) for w in workloads if w.kind == VM])
        if not form.is_valid():
            return self.render_page(request, pick, form, workloads, truncated)
        data = form.cleaned_data
        try:
            assessment = assess(load_workloads(host_ids=data["host"], vm_ids=data["vm"]), account=data["account"])
        except NoPriceTable as exc:
            form.add_error("account", str(exc))
            return self.render_page(request, pick, form, workloads, truncated)
        plan = plans.create_plan(data["name"], assessment, user=request.user, account=data["account"])
        messages.success(request, f"Assessed {len(assessment.items)} workloads into plan {plan.name}.")
        return redirect("migrations_tool:plan_assessment", plan.pk)


# --- step 2: assessment -------------------------------------------------------------------------


class AssessmentView(ReadOrWriteRoleMixin, View):
    template_name = "migrations_tool/assessment.html"

    def forms(self, plan, data=None):
        workloads = plan.workloads.select_related("wave", "target_hypervisor__host", "host", "vm")
        return [(w, WorkloadForm(data, instance=w, prefix=f"w{w.pk}")) for w in workloads]

    def render_page(self, request, plan, rows):
        review = plans.review(plan, ask_cloud=False)  # the costs: no need to ask AWS on every edit
        return render(request, self.template_name, {**plan_context(request, plan, "assessment"), "rows": rows,
                                                    "totals": review, "hypervisors": plans.hypervisor_choices()})

    def get(self, request, pk):
        plan = get_object_or_404(MigrationPlan.objects.select_related("account"), pk=pk)
        return self.render_page(request, plan, self.forms(plan))

    def post(self, request, pk):
        plan = get_object_or_404(MigrationPlan.objects.select_related("account"), pk=pk)
        rows = self.forms(plan, request.POST)
        failed = False
        with transaction.atomic():
            for workload, form in rows:
                if not form.is_valid():
                    failed = True
                    continue
                if not form.has_changed():
                    continue
                try:
                    plans.change_workload(workload, **{name: form.cleaned_data[name] for name in form.changed_data})
                except ValidationError as exc:
                    for field, errors in exc.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                    failed = True
            if failed:
                transaction.set_rollback(True)
        if failed:
            return self.render_page(request, plan, rows)
        messages.success(request, "Choices saved.")
        return redirect("migrations_tool:plan_waves" if "next" in request.POST else "migrations_tool:plan_assessment",
                        plan.pk)


# --- step 3: waves and dependencies ----------------------------------------------------------------


def plan_dependencies(plan):
    keys = {w.workload_key for w in plan.workloads.all()}
    edges = set(waves.dependency_edges(keys))
    found = []
    for dependency in Dependency.objects.select_related("source_host", "source_vm", "target_host", "target_vm"):
        if (dependency.source_key, dependency.target_key) in edges:
            found.append(dependency)
    return found


class WavesView(ReadOrWriteRoleMixin, View):
    template_name = "migrations_tool/waves.html"

    def render_page(self, request, plan, dependency_form=None):
        workloads = list(plan.workloads.select_related("wave"))
        by_wave = {}
        for w in waves.ordered_workloads(plan):
            by_wave.setdefault(w.wave_id, []).append(w)
        return render(request, self.template_name, {
            **plan_context(request, plan, "waves"), "waves": [(wave, by_wave.get(wave.pk, [])) for wave in plan.waves.all()],
            "unassigned": [w for w in workloads if w.wave_id is None], "dependencies": plan_dependencies(plan),
            "dependency_form": dependency_form or DependencyForm(plan=plan), "problems": waves.violations(plan),
            "all_waves": list(plan.waves.all()),
        })

    def get(self, request, pk):
        return self.render_page(request, get_object_or_404(MigrationPlan, pk=pk))

    def post(self, request, pk):
        plan = get_object_or_404(MigrationPlan, pk=pk)
        what = request.POST.get("action")
        if what == "group":
            waves.apply_waves(plan)
            messages.success(request, "Waves regrouped from the dependencies.")
        elif what == "add-wave":
            number = (plan.waves.aggregate(top=Max("number"))["top"] or 0) + 1
            Wave.objects.create(plan=plan, number=number, name=f"Wave {number}")
        elif what == "move":
            form = WaveMoveForm(request.POST, plan=plan)
            if form.is_valid():
                try:
                    plans.change_workload(form.cleaned_data["workload"], wave=form.cleaned_data["wave"])
                except ValidationError as exc:
                    messages.error(request, " ".join(exc.messages))
            else:
                messages.error(request, "Choose a workload and a wave of this plan.")
        elif what == "add-dependency":
            form = DependencyForm(request.POST, plan=plan)
            if form.is_valid():
                dependency = form.dependency()
                dependency.created_by = request.user
                try:
                    dependency.full_clean()
                    dependency.save()
                except ValidationError as exc:
                    for field, errors in exc.message_dict.items():
                        form.add_error("target" if field not in form.fields else field, errors)
                    return self.render_page(request, plan, form)
                messages.success(request, f"Recorded: {dependency}. Regroup the waves to follow it.")
            else:
                return self.render_page(request, plan, form)
        elif what == "delete-dependency":
            dependency_id = parse_id(request.POST.get("dependency"))
            if dependency_id is not None:
                Dependency.objects.filter(pk=dependency_id).delete()
        elif what == "next":
            return redirect("migrations_tool:plan_targets", plan.pk)
        return redirect("migrations_tool:plan_waves", plan.pk)


# --- step 4: targets ---------------------------------------------------------------------------------


class TargetsView(ReadOrWriteRoleMixin, View):
    template_name = "migrations_tool/targets.html"

    def forms(self, plan, user, data=None):
        form = TargetsForm(data, instance=plan)
        cloud = plan.workloads.filter(strategy__in=plans.CLOUD_STRATEGIES)
        return form, [(w, WorkloadTargetForm(data, instance=w, prefix=f"w{w.pk}", user=user)) for w in cloud]

    def get(self, request, pk):
        plan = get_object_or_404(MigrationPlan, pk=pk)
        form, rows = self.forms(plan, request.user)
        return render(request, self.template_name, {**plan_context(request, plan, "targets"), "form": form, "rows": rows})

    def post(self, request, pk):
        plan = get_object_or_404(MigrationPlan, pk=pk)
        form, rows = self.forms(plan, request.user, request.POST)
        if form.is_valid() and all(row.is_valid() for _, row in rows):
            with transaction.atomic():
                form.save()
                for _, row in rows:
                    row.save()
            return redirect("migrations_tool:plan_review", plan.pk)
        return render(request, self.template_name, {**plan_context(request, plan, "targets"), "form": form, "rows": rows})


# --- step 5: review and start --------------------------------------------------------------------------


class ReviewView(ReadOrWriteRoleMixin, View):
    template_name = "migrations_tool/review.html"

    def get(self, request, pk, errors=()):
        plan = get_object_or_404(MigrationPlan.objects.select_related("account"), pk=pk)
        return render(request, self.template_name, {**plan_context(request, plan, "review"),
                                                    "review": plans.review(plan), "errors": errors})

    def post(self, request, pk):
        plan = get_object_or_404(MigrationPlan, pk=pk)
        try:
            run = runs.start_run(plan, request.user)
        except ValidationError as exc:
            return self.get(request, pk, errors=exc.messages)
        messages.success(request, f"Run #{run.pk} started.")
        return redirect("migrations_tool:run_detail", run.pk)


# --- the run page ----------------------------------------------------------------------------------------


def run_context(request, run):
    return {"run": run, "plan": run.plan, "job": run.job, "rows": runs.progress_of(run), "log": runs.run_log(run),
            "replications": runs.replication_passes(run),
            "can_operate": can_operate(request), "actions": available_actions(run), "next_sync": runs.next_sync_at(run)}


def available_actions(run):
    """The controls that apply to the run as it is (buttons of the run page)."""
    state = run.state
    shown = []
    if state in Run.ACTIVE_STATES:
        shown += ["pause", "cancel"]
        if runs.is_silent(run):
            shown.append("take_over")
    if state in (Run.State.PAUSED, Run.State.FAILED):
        shown += ["resume", "cancel"]
    if state == Run.State.WAITING:
        shown += ["sync", "test_cutover", "cutover", "cancel"]
    finalized = run.steps.filter(kind="finalize").exists()
    if state == Run.State.DONE and not finalized:
        shown.append("finalize")
    if state in (Run.State.WAITING, Run.State.DONE, Run.State.FAILED, Run.State.CANCELLED, Run.State.PAUSED) \
            and not finalized:
        shown.append("rollback")
    return shown


class RunDetailView(ViewerRequiredMixin, TemplateView):
    template_name = "migrations_tool/run_detail.html"

    def get_context_data(self, **kwargs):
        run = get_object_or_404(Run.objects.select_related("plan__account", "job", "created_by"), pk=kwargs["pk"])
        return {**super().get_context_data(**kwargs), **run_context(self.request, run)}


class RunStatusView(RunDetailView):
    """The live part of the run page (HTMX polls it)."""

    template_name = "migrations_tool/_run_status.html"


class RunControlView(ActionRequiredMixin, View):
    performs = runs.add_action  # pause, cancel and resume need the same role

    def post(self, request, pk, control):
        run = get_object_or_404(Run.objects.select_related("plan", "job"), pk=pk)
        try:
            if control in ("pause", "cancel"):
                runs.request(run, control, request.user)
            elif control in ("resume", "take_over"):
                runs.resume(run, request.user, take_over=control == "take_over")
            else:
                runs.add_action(run, control, request.user)
        except runs.RunRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{control.replace('_', ' ').capitalize()} requested.")
        return redirect("migrations_tool:run_detail", run.pk)


class HostMigrationCardView(ViewerRequiredMixin, View):
    """HTMX: the host page's card of the migration plans that move the host (or its VMs'
    records): where each stands, and once cut over, the cloud instance that now runs it."""

    def get(self, request, pk):
        moves = (PlannedWorkload.objects.filter(Q(host_id=pk) | Q(vm__inventory_host_id=pk))
                 .select_related("plan").order_by("-plan__created_at", "-id")[:HOST_CARD_MOVES])
        return render(request, "migrations_tool/_host_card.html", {"moves": moves})
