"""The dashboard at /: the estate at a glance (hosts by status, role and site, failed
hosts, hypervisor capacity and N+1 per site, migration runs in progress, recent jobs and
changes). It reads every app; no app reads it."""

from auditlog.models import LogEntry
from django.db.models import Count, Q
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views import View
from django.views.generic import TemplateView

from core.mixins import ViewerRequiredMixin
from core.models import Job
from core.templatetags.console import STATUS_COLOURS
from hypervisors.services.capacity import site_usage
from hypervisors.tables import site_bars
from hypervisors.views_whatif import dashboard_n_plus_one
from inventory.models import Host, HostStatus, Rack, Site
from migrations_tool.services import runs

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
    template_name = "dashboard/dashboard.html"

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
            request, "dashboard/_jobs.html", {"jobs": jobs, "jobs_live": any(not j.is_finished for j in jobs)}
        )
