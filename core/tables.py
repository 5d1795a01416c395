"""django-tables2 tables of the core console pages."""

import django_tables2 as tables
from django.core.paginator import Paginator
from django.template.loader import render_to_string
from django.utils.html import format_html

from .models import Job
from .pagination import page_size


class Table(tables.Table):
    """The base of every console table. A page size asked in the query string (`per_page`,
    read by django-tables2's RequestConfig wherever a table is paginated) stays within
    1..MAX_PAGE_SIZE: below 1 the paginator had no first page to show (a 500)."""

    def paginate(self, paginator_class=Paginator, per_page=None, page=1, *args, **kwargs):
        return super().paginate(paginator_class, page_size(per_page), page, *args, **kwargs)


class JobTable(Table):
    id = tables.Column(verbose_name="#", linkify=("job_detail", [tables.A("pk")]))
    title = tables.Column(linkify=("job_detail", [tables.A("pk")]))
    kind = tables.Column(attrs={"td": {"class": "font-monospace small"}})
    state = tables.TemplateColumn("{% load console %}{% job_badge record %}", order_by=("state",))
    progress = tables.Column(attrs={"td": {"class": "progress-cell"}})
    message = tables.Column(orderable=False, attrs={"td": {"class": "small text-truncate message-cell"}})
    created_by = tables.Column(verbose_name="Requested by", default="system")
    created_at = tables.DateTimeColumn(verbose_name="Created", format="Y-m-d H:i")
    duration = tables.Column(orderable=False, empty_values=())

    class Meta:
        model = Job
        fields = ("id", "title", "kind", "state", "progress", "message", "created_by", "created_at", "duration")
        attrs = {"id": "job-table", "class": "table table-sm table-hover align-middle"}
        template_name = "django_tables2/bootstrap5.html"
        empty_text = "No jobs yet. Imports, syncs and migrations will show up here."

    def render_progress(self, record):
        return render_to_string("core/_progress.html", {"job": record})

    def render_duration(self, record):
        duration = record.duration
        if duration is None:
            return format_html('<span class="text-body-secondary">{}</span>', "running…" if record.started_at else "—")
        seconds = int(duration.total_seconds())
        return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
