"""CSV import and export of hosts over the API.

POST /api/inventory/hosts/import/ takes the CSV as a multipart file ("file"), a text
field ("csv", form or JSON) or a text/csv body. ?dry_run=1 answers with the preview and
writes nothing; otherwise a valid file starts an import Job (202) and a file with bad
rows is refused (400) with the same preview, so the client sees every error at once.
GET /api/inventory/hosts/export/ streams the hosts matching the host filters as CSV.
"""

from collections.abc import Mapping

from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import BaseParser, FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.views import ApiViewMixin
from core.roles import Role
from inventory.csv_export import hosts_csv_response
from inventory.csv_import import (
    MAX_CSV_BYTES,
    CSVFileError,
    error_line,
    parse_csv,
    plan_import,
    read_csv_bytes,
    read_csv_text,
    read_uploaded_csv,
)
from inventory.models import Host, HostStatus
from inventory.tasks import start_host_import

from .filters import HostApiFilterSet

TRUE_VALUES = {"1", "true", "yes", "on"}

# The host list's filters (drf-spectacular documents filters of list views only).
EXPORT_FILTER_PARAMETERS = [
    OpenApiParameter("q", str, description="Search hostname, serial, asset tag, owner, notes, addresses"),
    OpenApiParameter("status", str, many=True, enum=[value for value, _ in HostStatus.choices], explode=True),
    OpenApiParameter("role", str, many=True, explode=True, description="Role slug"),
    OpenApiParameter("site", str, many=True, explode=True, description="Site slug"),
    OpenApiParameter("tag", str, many=True, explode=True, description="Tag slug"),
    OpenApiParameter("rack", int, description="Rack id"),
    OpenApiParameter("owner", str, description="Owner (exact, any case)"),
    OpenApiParameter("vendor", str, description="Vendor contains"),
]


class CSVTextParser(BaseParser):
    """A text/csv request body (curl --data-binary @hosts.csv -H 'Content-Type: text/csv')."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        # One byte over the limit is enough to refuse the file with a clear message.
        return {"csv": stream.read(MAX_CSV_BYTES + 1) if stream else b""}


# --- documentation of the answers --------------------------------------------------


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(required=False, help_text="The CSV file (UTF-8, header row first)")
    csv = serializers.CharField(required=False, help_text="Or the CSV as text")


class ImportTextSerializer(serializers.Serializer):
    csv = serializers.CharField(help_text="The CSV as text (UTF-8, header row first)")


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="Row number as a spreadsheet shows it (the header is row 1)")
    column = serializers.CharField(help_text='A column name, or "row" for the whole row')
    message = serializers.CharField()
    text = serializers.CharField(help_text='e.g. "row 7, memory_mib: Enter a whole number."')


class ImportChangeSerializer(serializers.Serializer):
    column = serializers.CharField()
    before = serializers.CharField(help_text="As the CSV cell would read; secrets are masked")
    after = serializers.CharField()


class ImportRowSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    hostname = serializers.CharField()
    action = serializers.ChoiceField(choices=["create", "update", "unchanged", "error"])
    changes = ImportChangeSerializer(many=True)
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class ImportCountsSerializer(serializers.Serializer):
    create = serializers.IntegerField()
    update = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    error = serializers.IntegerField()


class ImportPreviewSerializer(serializers.Serializer):
    valid = serializers.BooleanField(help_text="True when every row can be imported")
    summary = ImportCountsSerializer()
    new_tags = serializers.ListField(child=serializers.CharField(), help_text="Tags the import will create")
    errors = ImportErrorSerializer(many=True)
    rows = ImportRowSerializer(many=True)


class ImportJobSerializer(serializers.Serializer):
    job_id = serializers.IntegerField()
    job_url = serializers.URLField(help_text="Follow the import at /api/jobs/{id}/")
    state = serializers.CharField()
    summary = ImportCountsSerializer(help_text="What the check found; the job checks again before writing")


def preview_payload(plan):
    return {
        "valid": plan.is_valid,
        "summary": plan.counts,
        "new_tags": sorted(plan.new_tags.values()),
        "errors": [{**error, "text": error_line(error)} for error in plan.errors],
        "rows": [
            {
                "row": row.number,
                "hostname": row.hostname,
                "action": row.action,
                "changes": [vars(change) for change in row.changes],
                "errors": row.errors,
            }
            for row in plan.rows
        ],
    }


def csv_from_request(request):
    """(text, name) of the CSV a request carries, or CSVFileError."""
    uploaded = request.FILES.get("file")
    if uploaded is not None:
        return read_uploaded_csv(uploaded), uploaded.name
    value = request.data.get("csv") if isinstance(request.data, Mapping) else None
    if isinstance(value, bytes) and value:
        return read_csv_bytes(value), "CSV request body"
    if isinstance(value, str) and value.strip():
        return read_csv_text(value), "CSV text"
    raise CSVFileError('Send the CSV as a file field "file", a text field "csv" or a text/csv request body.')


@extend_schema(tags=["inventory"])
class HostImportView(ApiViewMixin, APIView):
    write_role = Role.OPERATOR
    parser_classes = [MultiPartParser, FormParser, JSONParser, CSVTextParser]

    @extend_schema(
        operation_id="inventory_hosts_import",
        summary="Import hosts from CSV (all or nothing)",
        description=(
            "Columns as in the export (any order, any subset; hostname is the key) plus the write-only "
            "bmc_password. With dry_run the preview is returned and nothing is written. Otherwise a file "
            "whose rows are all valid starts an import job (202); the job checks the file again and "
            "writes every row in one transaction. Any invalid row: 400 with the preview."
        ),
        parameters=[OpenApiParameter("dry_run", OpenApiTypes.BOOL, description="Only check and preview")],
        request={
            "multipart/form-data": ImportUploadSerializer,
            "application/x-www-form-urlencoded": ImportTextSerializer,
            "application/json": ImportTextSerializer,
            "text/csv": OpenApiTypes.STR,
        },
        responses={
            200: OpenApiResponse(ImportPreviewSerializer, description="Dry run: the preview"),
            202: OpenApiResponse(ImportJobSerializer, description="The import job was started"),
            400: OpenApiResponse(
                OpenApiTypes.OBJECT, description='An unusable file ({"file": [...]}) or rows with errors (the preview)'
            ),
        },
    )
    def post(self, request):
        try:
            text, name = csv_from_request(request)
            plan = plan_import(parse_csv(text))
        except CSVFileError as exc:
            return Response({"file": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        if str(request.query_params.get("dry_run", "")).lower() in TRUE_VALUES:
            return Response(preview_payload(plan))
        if not plan.is_valid:
            return Response(preview_payload(plan), status=status.HTTP_400_BAD_REQUEST)
        job = start_host_import(text, request.user, name)
        job_url = request.build_absolute_uri(reverse("job-detail", args=[job.pk]))
        return Response(
            {"job_id": job.pk, "job_url": job_url, "state": job.state, "summary": plan.counts},
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": job_url},
        )


@extend_schema(tags=["inventory"])
class HostExportView(ApiViewMixin, GenericAPIView):
    """The hosts matching the filters as CSV, streamed. The same query parameters as the
    host list; bmc_password is never exported."""

    read_role = Role.VIEWER
    queryset = Host.objects.all()
    filter_backends = [DjangoFilterBackend]
    filterset_class = HostApiFilterSet
    pagination_class = None

    def perform_content_negotiation(self, request, force=False):
        # "Accept: text/csv" must not be refused: the CSV is streamed as it is, and the
        # only answers rendered here (errors) fall back to JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="inventory_hosts_export",
        summary="Export hosts as CSV",
        parameters=EXPORT_FILTER_PARAMETERS,
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The hosts as CSV")},
    )
    def get(self, request):
        return hosts_csv_response(self.filter_queryset(self.get_queryset()))
