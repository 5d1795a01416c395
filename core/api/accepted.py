"""The one answer every API action that starts a Job gives: 202 with where to follow it."""

from django.urls import reverse
from rest_framework import serializers, status
from rest_framework.response import Response


class JobAcceptedSerializer(serializers.Serializer):
    job = serializers.IntegerField(help_text="Id of the job doing the work")
    url = serializers.CharField(help_text="Where to follow it: /api/jobs/<id>/")
    state = serializers.CharField()


def job_accepted(job, **extra):
    """202 Accepted for `job`, plus `extra` facts for the client (documented by a
    subclass of JobAcceptedSerializer)."""
    body = {"job": job.pk, "url": reverse("job-detail", args=[job.pk]), "state": job.state, **extra}
    return Response(body, status=status.HTTP_202_ACCEPTED)


def validated(serializer_class, data):
    """The validated data of `data`, or a 400 with field errors."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
