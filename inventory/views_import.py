"""Console pages for CSV import and export of hosts.

Import is upload -> preview -> commit on one URL: the upload is checked and shown row by
row, the file waits (encrypted) in the session, and "Commit import" starts a Job that
checks it again and writes it all or nothing.
"""

import secrets

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from core.mixins import OperatorRequiredMixin, ViewerRequiredMixin

from .csv_export import csv_response, filtered_hosts, hosts_csv_response, template_lines
from .csv_import import (
    MAX_CSV_BYTES,
    MAX_ROWS,
    CSVFileError,
    error_line,
    parse_csv,
    plan_import,
    read_uploaded_csv,
    seal_csv,
    unseal_csv,
)
from .formats import DISK_EXAMPLE, INTERFACE_EXAMPLE
from .tasks import start_host_import

PENDING_IMPORT = "inventory.pending_host_import"  # session key
ERRORS_LISTED = 25

# What each column means, for the upload page.
COLUMN_HELP = [
    ("hostname", "The key: an existing host is updated, a new name creates a host.", "luna"),
    ("role", "Role slug or name; empty for none.", "app"),
    ("site", "Site slug or name; needed for a new host.", "ams1"),
    ("rack", "Rack name within the site; empty for none.", "R01"),
    ("position", "Lowest rack unit the host occupies.", "10"),
    ("u_height", "Height in rack units.", "1"),
    ("status", "planned, active, spare, maintenance, failed, migrated or decommissioned (lifecycle rules apply).", "active"),
    ("serial / asset_tag / vendor / model", "Free text; asset tags are unique.", "Dell / R640"),
    ("cpu_sockets / cpu_cores / memory_mib", "Whole numbers.", "2 / 32 / 262144"),
    ("disks", "name:size_gb[:kind], comma-separated.", DISK_EXAMPLE),
    ("interfaces", "name=mac/ip, semicolon-separated.", INTERFACE_EXAMPLE),
    ("mgmt_address", "IPv4 or IPv6 address.", "10.0.0.5"),
    ("bmc_address", "Out-of-band controller address.", "10.0.100.5"),
    ("bmc_password", "Write-only: set when not empty, never exported.", ""),
    ("owner / notes", "Free text.", "team-web"),
    ("tags", "Tag slugs or names, comma- or semicolon-separated; unknown tags are created.", "prod, pci"),
    ("cloud_instance_id", "Read-only: where a migration moved the host (exported; ignored on import).", ""),
]


class CSVUploadForm(forms.Form):
    csv_file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8, header row first, at most {MAX_CSV_BYTES // 1024 // 1024} MB and {MAX_ROWS:,} hosts.",
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv", "class": "form-control"}),
    )

    def clean_csv_file(self):
        uploaded = self.cleaned_data["csv_file"]
        try:
            self.text = read_uploaded_csv(uploaded)
            self.parsed = parse_csv(self.text)
        except CSVFileError as exc:
            raise ValidationError(str(exc)) from None
        return uploaded


class HostImportView(OperatorRequiredMixin, View):
    """GET: the upload form. POST a file: the preview. POST "commit": start the Job."""

    def get(self, request):
        request.session.pop(PENDING_IMPORT, None)  # a new upload replaces any pending preview
        return self.upload_page(CSVUploadForm())

    def post(self, request):
        if "commit" in request.POST:
            return self.commit()
        form = CSVUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.upload_page(form)
        return self.preview(form)

    def upload_page(self, form):
        return render(self.request, "inventory/import.html", {"form": form, "column_help": COLUMN_HELP})

    def preview(self, form):
        plan = plan_import(form.parsed)
        filename = form.cleaned_data["csv_file"].name
        token = None
        self.request.session.pop(PENDING_IMPORT, None)
        if plan.is_valid:
            token = secrets.token_urlsafe(16)
            self.request.session[PENDING_IMPORT] = {"token": token, "filename": filename, "csv": seal_csv(form.text)}
        errors = plan.errors
        context = {
            "plan": plan,
            "counts": plan.counts,
            "filename": filename,
            "token": token,
            "error_lines": [(error["row"], error_line(error)) for error in errors[:ERRORS_LISTED]],
            "more_errors": max(0, len(errors) - ERRORS_LISTED),
            "form": CSVUploadForm(),
        }
        return render(self.request, "inventory/import_preview.html", context)

    def commit(self):
        pending = self.request.session.get(PENDING_IMPORT)
        token = self.request.POST.get("token", "").encode()
        if not pending or not secrets.compare_digest(pending["token"].encode(), token):
            messages.error(self.request, "That preview is no longer current. Upload the file again.")
            return redirect("inventory:host_import")
        del self.request.session[PENDING_IMPORT]
        job = start_host_import(unseal_csv(pending["csv"]), self.request.user, pending["filename"])
        messages.success(self.request, f"Import of {pending['filename']} started as job #{job.pk}.")
        return redirect(reverse("job_detail", args=[job.pk]))


class HostExportView(ViewerRequiredMixin, View):
    """The hosts matching the host list's filters (same query parameters), as CSV."""

    def get(self, request):
        try:
            hosts = filtered_hosts(request.GET)
        except ValidationError as exc:
            problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in exc.message_dict.items())
            messages.error(request, f"Cannot export: {problems}")
            return redirect(f"{reverse('inventory:host_list')}?{request.GET.urlencode()}")
        return hosts_csv_response(hosts)


class HostImportTemplateView(ViewerRequiredMixin, View):
    """An empty import file with every column."""

    def get(self, request):
        return csv_response(template_lines(), "hosts-import-template.csv")
