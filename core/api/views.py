from auditlog.models import LogEntry
from django.http import JsonResponse
from django.views import defaults
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core import jobs
from core.models import Job
from core.roles import Role

from .exceptions import Conflict
from .filters import ChangeLogFilterSet, JobFilterSet
from .schema import ErrorDetailSerializer, ErrorDocumentingAutoSchema
from .serializers import ChangeLogEntrySerializer, CurrentUserSerializer, JobDetailSerializer, JobSerializer


class ApiViewMixin:
    # What every API view of the product shares: JSON in, documented error answers.
    # (a comment, not a docstring: drf-spectacular would show an inherited docstring
    # as the description of every view or serializer built on this class)

    parser_classes = [JSONParser]
    schema = ErrorDocumentingAutoSchema()
    # None: the role the view's model declares (core.permissions); an @action(write_role=...)
    # sets its own, which DRF accepts only for attributes the view class has.
    read_role = write_role = delete_role = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        refuse_null_characters(request.query_params)


def refuse_null_characters(query_params):
    """PostgreSQL cannot compare text holding NUL characters: a filter value with one
    would end in a database error, so it is refused as bad input first."""
    bad = sorted({key for key, values in query_params.lists() if "\x00" in key or any("\x00" in v for v in values)})
    if bad:
        raise ValidationError({key: ["Null characters are not allowed."] for key in bad})


def page_not_found(request, exception):
    """404 for a URL that matches nothing: JSON under /api/ (what API clients parse),
    Django's page elsewhere. Installed as handler404 in opsconsole/urls.py."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


class JobViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Long-running work (imports, syncs, migrations...). Operators may cancel a job."""

    queryset = Job.objects.select_related("created_by", "target_type")
    filterset_class = JobFilterSet
    ordering_fields = ["created_at", "started_at", "finished_at", "state", "kind"]
    write_role = Role.OPERATOR

    def get_serializer_class(self):
        return JobSerializer if self.action == "list" else JobDetailSerializer

    @extend_schema(request=None, responses={200: JobDetailSerializer, 409: ErrorDetailSerializer})
    @action(detail=True, methods=["post"], write_role=jobs.cancel_job.role)
    def cancel(self, request, pk=None):
        """Ask a job to stop. A pending job is cancelled at once; a running one stops at its
        next progress report. 409 when the job already finished."""
        job = self.get_object()
        if not jobs.cancel_job(job, user=request.user):
            raise Conflict(f"Job #{job.pk} already finished ({job.state}); there is nothing to cancel.")
        job.refresh_from_db()
        return Response(self.get_serializer(job).data)


class ChangeLogViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Who changed what and when (the django-auditlog change log)."""

    queryset = LogEntry.objects.select_related("actor", "content_type")
    serializer_class = ChangeLogEntrySerializer
    filterset_class = ChangeLogFilterSet
    ordering_fields = ["timestamp", "id"]
    ordering = ["-timestamp", "-id"]


class CurrentUserView(ApiViewMixin, APIView):
    """The user this request is authenticated as, and their console role."""

    @extend_schema(responses=CurrentUserSerializer)
    def get(self, request):
        return Response(CurrentUserSerializer(request.user).data)
