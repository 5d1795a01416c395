"""Console pages of the core app: dashboard, jobs, change log."""

from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views import View
from django.views.generic import DetailView, ListView, TemplateView
from django_tables2 import SingleTableView

from hypervisors.services.capacity import site_usage
from hypervisors.tables import site_bars
from hypervisors.views_whatif import dashboard_n_plus_one
from migrations_tool.services import runs
from inventory.models import Host, HostStatus, Rack, Site

from .jobs import request_cancel
from .mixins import OperatorRequiredMixin, ViewerRequiredMixin
from .models import Job
from .tables import JobTable
from .templatetags.console import STATUS_COLOURS

RECENT_JOBS = 8
RECENT_CHANGES = 10
FAILED_HOSTS_SHOWN = 25


def bar_rows(counts, host_filter=None, colours=None):
    """Rows of a horizontal bar chart: [(key, label, count)] -> dicts with a width in
    percent of the largest count and a link to the host list filtered on that key."""
    top = max((count for _, _, count in counts), default=0) or 1
    host_list = reverse("inventory:host_list")
    return [
        {
            "label": label,
            "count": count,
            "percent": round(100 * count / top),
            "url": f"{host_list}?{urlencode({host_filter: key})}" if host_filter and key else "",
            "colour": (colours or {}).get(key, "primary"),
        }
        for key, label, count in counts
    ]


def host_counts_by(field_prefix):
    """[(slug, name, count)] of hosts grouped by role or site, largest first."""
    rows = (
        Host.objects.values(f"{field_prefix}__slug", f"{field_prefix}__name")
        .annotate(count=Count("pk"))
        .order_by("-count", f"{field_prefix}__name")
    )
    return [(r[f"{field_prefix}__slug"], r[f"{field_prefix}__name"] or "None", r["count"]) for r in rows]


def recent_jobs():
    """What people started and whatever went wrong: scheduled jobs (health sweeps every few
    seconds, syncs) that succeeded would push everything else off the card."""
    routine = Q(created_by__isnull=True, state=Job.State.SUCCEEDED)
    return list(Job.objects.exclude(routine).select_related("created_by")[:RECENT_JOBS])


class DashboardView(ViewerRequiredMixin, TemplateView):
    template_name = "core/dashboard.html"

    def get_context_data(self, **kwargs):
        by_status = dict(Host.objects.values_list("status").annotate(count=Count("pk")).order_by())
        jobs = recent_jobs()
        failed = Host.objects.filter(status=HostStatus.FAILED).select_related("role", "site", "rack")
        return super().get_context_data(
            host_total=sum(by_status.values()),
            site_total=Site.objects.count(),
            rack_total=Rack.objects.count(),
            running_jobs=Job.objects.filter(state__in=[Job.State.PENDING, Job.State.RUNNING]).count(),
            status_bars=bar_rows(
                [(s.value, s.label, by_status.get(s.value, 0)) for s in HostStatus], "status", STATUS_COLOURS
            ),
            role_bars=bar_rows(host_counts_by("role"), "role"),
            capacity_sites=site_bars(site_usage()),
            site_bars=bar_rows(host_counts_by("site"), "site"),
            failed_hosts=failed.order_by("-updated_at")[:FAILED_HOSTS_SHOWN],
            failed_total=by_status.get(HostStatus.FAILED, 0),
            n_plus_one=dashboard_n_plus_one(),
            open_runs=runs.open_runs(),
            jobs=jobs,
            jobs_live=any(not job.is_finished for job in jobs),
            changes=LogEntry.objects.select_related("actor", "content_type")[:RECENT_CHANGES],
            **kwargs,
        )


class DashboardJobsView(ViewerRequiredMixin, View):
    """The dashboard's recent-jobs card, polled while some job is still going."""

    def get(self, request):
        jobs = recent_jobs()
        return render(
            request, "core/_dashboard_jobs.html", {"jobs": jobs, "jobs_live": any(not j.is_finished for j in jobs)}
        )


# --- jobs ------------------------------------------------------------------------


class JobListView(ViewerRequiredMixin, SingleTableView):
    table_class = JobTable
    template_name = "core/job_list.html"
    table_pagination = {"per_page": 50}

    def get_queryset(self):
        jobs = Job.objects.select_related("created_by")
        state = self.request.GET.get("state")
        if state in Job.State.values:
            jobs = jobs.filter(state=state)
        return jobs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["states"] = Job.State.choices
        context["current_state"] = self.request.GET.get("state", "")
        context["live"] = any(not job.is_finished for job in context["table"].paginated_rows.data)
        return context


def job_steps(job):
    """The job's child jobs (an evacuation's migrations, an HA restart's VMs), oldest
    first, and how many of them finished: one query whatever their number."""
    children = list(job.children.order_by("created_at", "id"))
    return {"children": children, "children_finished": sum(child.is_finished for child in children)}


class JobStepsMixin:
    def get_context_data(self, **kwargs):
        return super().get_context_data(**job_steps(self.object), **kwargs)


class JobDetailView(ViewerRequiredMixin, JobStepsMixin, DetailView):
    model = Job
    template_name = "core/job_detail.html"
    queryset = Job.objects.select_related("created_by", "target_type")


class JobProgressView(ViewerRequiredMixin, JobStepsMixin, DetailView):
    """The live part of a job page (progress, message, state, its steps' bars, log),
    polled by HTMX every second until the job is finished."""

    model = Job
    template_name = "core/_job_status.html"


class JobCancelView(OperatorRequiredMixin, View):
    def post(self, request, pk):
        job = get_object_or_404(Job, pk=pk)
        cancelled = request_cancel(job)
        if request.htmx:  # the refreshed status block says it all
            job.refresh_from_db()
            return render(request, "core/_job_status.html", {"job": job, **job_steps(job)})
        if cancelled:
            messages.info(request, f"Cancellation of job #{job.pk} requested.")
        else:
            messages.warning(request, f"Job #{job.pk} had already finished; nothing to cancel.")
        return redirect("job_detail", pk=job.pk)


# --- change log ----------------------------------------------------------------


def audited_content_types():
    models = sorted(auditlog.get_models(), key=lambda m: (m._meta.app_label, m._meta.model_name))
    types = ContentType.objects.get_for_models(*models)
    return [types[model] for model in models]


class ChangeLogFilterForm(forms.Form):
    model = forms.ChoiceField(required=False)
    action = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, choices=[("", "Any action"), *LogEntry.Action.choices]
    )
    actor = forms.ModelChoiceField(
        required=False,
        queryset=get_user_model().objects.order_by("username"),
        empty_label="Anyone",
        to_field_name="username",
    )
    object = forms.CharField(required=False, label="Object", widget=forms.TextInput(attrs={"placeholder": "e.g. luna"}))
    object_pk = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.content_types = {f"{ct.app_label}.{ct.model}": ct for ct in audited_content_types()}
        self.fields["model"].choices = [("", "Any type")] + [
            (key, str(ct.model_class()._meta.verbose_name).capitalize()) for key, ct in self.content_types.items()
        ]

    def filter(self, entries):
        if not self.is_valid():
            return entries.none()
        data = self.cleaned_data
        if data["model"]:
            entries = entries.filter(content_type=self.content_types[data["model"]])
        if data["action"] is not None:
            entries = entries.filter(action=data["action"])
        if data["actor"]:
            entries = entries.filter(actor=data["actor"])
        if data["object"]:
            entries = entries.filter(object_repr__icontains=data["object"].strip())
        if data["object_pk"]:
            entries = entries.filter(object_pk=data["object_pk"])
        return entries


class ChangeLogView(ViewerRequiredMixin, ListView):
    template_name = "core/changelog.html"
    paginate_by = 50
    context_object_name = "entries"

    def get_queryset(self):
        self.filter_form = ChangeLogFilterForm(self.request.GET)
        entries = LogEntry.objects.select_related("actor", "content_type").order_by("-timestamp", "-pk")
        return self.filter_form.filter(entries)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(filter_form=self.filter_form, **kwargs)
        page = context["page_obj"]
        context["page_range"] = page.paginator.get_elided_page_range(page.number) if page else []
        return context
