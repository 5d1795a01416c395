"""Console pages of the core app: jobs, change log (the dashboard is the dashboard app's)."""

from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import DetailView, ListView
from django_tables2 import SingleTableView

from .jobs import cancel_job
from .mixins import ActionRequiredMixin, ViewerRequiredMixin
from .models import Job
from .tables import JobTable

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


class JobCancelView(ActionRequiredMixin, View):
    performs = cancel_job

    def post(self, request, pk):
        job = get_object_or_404(Job, pk=pk)
        cancelled = cancel_job(job, user=request.user)
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
