from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models


class JobQuerySet(models.QuerySet):
    def for_target(self, obj):
        """The jobs working (or that worked) on `obj`."""
        return self.filter(target_type=ContentType.objects.get_for_model(obj), target_id=str(obj.pk))

    def unfinished(self):
        return self.exclude(state__in=Job.FINISHED_STATES)


class Job(models.Model):
    """A unit of long-running work (import, sync, migration...), created before its
    Celery task is sent so the console can show it from the first instant."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED_STATES = (State.SUCCEEDED, State.FAILED, State.CANCELLED)

    kind = models.CharField(max_length=64, db_index=True, help_text="What the job does, e.g. inventory.import")
    title = models.CharField(max_length=200)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="0-100")
    message = models.CharField(max_length=300, blank=True, help_text="What the job is doing now")
    log = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    cancel_requested = models.BooleanField(default=False)
    target_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL)
    target_id = models.CharField(max_length=64, blank=True)
    target = GenericForeignKey("target_type", "target_id")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children",
        help_text="The job this one is a step of (e.g. one VM's migration in an evacuation)",
    )

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self):
        return f"#{self.pk} {self.title} ({self.state})"

    @property
    def visible_params(self):
        """Params as shown to people: sealed (encrypted) values, e.g. an imported CSV that may
        hold BMC passwords, are named but not shown."""
        return {k: ("(sealed)" if k.endswith("_sealed") else v) for k, v in (self.params or {}).items()}

    @property
    def is_finished(self):
        return self.state in self.FINISHED_STATES

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None
