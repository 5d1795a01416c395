"""Health: how hosts are checked (schedules, ports; SSH credentials and host keys are the
access app's), what the checks found (results, hourly aggregates, the latest status per
check), what that means for each host (its health state and the events that changed it)
and whom we told (alerts, their deliveries and every delivery attempt)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.db.models import Q

from core.crypto import EncryptedTextField
from core.roles import Role as ConsoleRole
from inventory.models import Host, Role

from . import webhooks

# How hosts are checked, fenced and whom alerts reach: viewers read it, admins change it.
CONFIGURATION_ROLES = {"change": ConsoleRole.ADMIN, "delete": ConsoleRole.ADMIN}


class Check(models.TextChoices):
    SSH = "ssh", "SSH login"
    METRICS = "metrics", "Metrics over SSH"
    LIBVIRT = "libvirt", "libvirt"
    TCP = "tcp", "TCP ports"
    BMC = "bmc", "BMC reachability"


class HealthState(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    HEALTHY = "healthy", "Healthy"
    SUSPECT = "suspect", "Suspect"
    FAILED = "failed", "Failed"


# --- how hosts are checked ----------------------------------------------------------


class CheckSchedule(models.Model):
    """How often a check runs: for every host (neither role nor host), for a role's hosts,
    or for one host. The most specific schedule of a check wins; a disabled one turns the
    check off where it applies."""

    required_roles = CONFIGURATION_ROLES

    check_type = models.CharField("check", max_length=16, choices=Check.choices)
    role = models.ForeignKey(Role, null=True, blank=True, on_delete=models.CASCADE, related_name="check_schedules")
    host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.CASCADE, related_name="check_schedules")
    interval_seconds = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(5), MaxValueValidator(7 * 24 * 3600)],
        help_text="Seconds between two runs of the check on a host",
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["check_type", "host__hostname", "role__name"]
        constraints = [
            models.CheckConstraint(condition=Q(role__isnull=True) | Q(host__isnull=True), name="schedule_role_or_host"),
            models.UniqueConstraint(fields=["check_type"], condition=Q(role__isnull=True, host__isnull=True),
                                    name="schedule_default_unique"),
            models.UniqueConstraint(fields=["check_type", "role"], condition=Q(host__isnull=True),
                                    name="schedule_role_unique"),
            models.UniqueConstraint(fields=["check_type", "host"], name="schedule_host_unique"),
        ]

    def __str__(self):
        return f"{self.get_check_type_display()} every {self.interval_seconds}s for {self.scope}"

    @property
    def scope(self):
        if self.host_id:
            return f"host {self.host.hostname}"
        if self.role_id:
            return f"role {self.role.name}"
        return "every host"

    def clean(self):
        if self.role_id and self.host_id:
            raise ValidationError("A schedule is for a role or for a host, not both.")
        duplicate = CheckSchedule.objects.filter(check_type=self.check_type, role_id=self.role_id,
                                                 host_id=self.host_id).exclude(pk=self.pk)
        if duplicate.exists():
            raise ValidationError(f"There is already a {self.get_check_type_display()} schedule for {self.scope}.")


class PortCheck(models.Model):
    """A TCP port every host of a role must accept connections on (db → 5432)."""

    required_roles = CONFIGURATION_ROLES

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="port_checks")
    port = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(65535)])
    label = models.CharField(max_length=64, blank=True, help_text="What answers there, e.g. PostgreSQL")

    class Meta:
        ordering = ["role__name", "port"]
        constraints = [models.UniqueConstraint(fields=["role", "port"], name="port_check_unique_per_role")]

    def __str__(self):
        return f"{self.role.name}: {self.port}"


# --- what the checks found ------------------------------------------------------------


class CheckResult(models.Model):
    """One run of one check on one host (kept raw for a day, then aggregated hourly)."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="check_results")
    check_type = models.CharField("check", max_length=16, choices=Check.choices)
    ok = models.BooleanField()
    alive = models.BooleanField(null=True, help_text="Whether the answer proves the host is up (None: says nothing)")
    value = models.JSONField(default=dict, blank=True)
    message = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    checked_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-checked_at", "-id"]
        indexes = [models.Index(fields=["host", "check_type", "-checked_at"], name="result_host_check_time")]

    def __str__(self):
        return f"{self.host_id} {self.check_type} {'ok' if self.ok else 'FAILED'} at {self.checked_at:%H:%M:%S}"


class CheckAggregate(models.Model):
    """One hour of one check on one host: counts and the averages of its numbers."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="check_aggregates")
    check_type = models.CharField("check", max_length=16, choices=Check.choices)
    hour = models.DateTimeField(help_text="Start of the hour")
    runs = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    duration_ms_avg = models.PositiveIntegerField(default=0)
    value = models.JSONField(default=dict, blank=True, help_text="Averages of the numeric values of the hour")

    class Meta:
        ordering = ["-hour"]
        constraints = [models.UniqueConstraint(fields=["host", "check_type", "hour"], name="aggregate_unique_hour")]

    def __str__(self):
        return f"{self.host} {self.check_type} {self.hour:%Y-%m-%d %H:00}"


class CheckStatus(models.Model):
    """The latest result of each check on each host, and for how long it has been so."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="check_statuses")
    check_type = models.CharField("check", max_length=16, choices=Check.choices)
    ok = models.BooleanField()
    alive = models.BooleanField(null=True)
    value = models.JSONField(default=dict, blank=True)
    message = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    checked_at = models.DateTimeField()
    since = models.DateTimeField(help_text="When the check last changed between ok and failing")
    consecutive_failures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["host__hostname", "check_type"]
        verbose_name_plural = "check statuses"
        constraints = [models.UniqueConstraint(fields=["host", "check_type"], name="check_status_unique")]

    def __str__(self):
        return f"{self.host} {self.check_type}: {'ok' if self.ok else 'failing'}"


class HostHealth(models.Model):
    """What the checks say about a host now."""

    host = models.OneToOneField(Host, on_delete=models.CASCADE, primary_key=True, related_name="health")
    state = models.CharField(max_length=16, choices=HealthState.choices, default=HealthState.UNKNOWN, db_index=True)
    since = models.DateTimeField()
    consecutive_failures = models.PositiveIntegerField(default=0, help_text="Failed rounds in a row")
    consecutive_successes = models.PositiveIntegerField(default=0, help_text="Successful rounds in a row")
    failure_times = models.JSONField(default=list, blank=True, help_text="When the rounds of the current failure streak failed")
    last_check_at = models.DateTimeField(null=True, blank=True)
    failing_checks = models.JSONField(default=list, blank=True, help_text="Checks failing now (any kind)")
    flapping = models.BooleanField(default=False)
    flapping_since = models.DateTimeField(null=True, blank=True)
    alerted_state = models.CharField(max_length=16, blank=True,
                                     help_text="The state last acted on (alert, journal, status): failed or healthy")

    class Meta:
        ordering = ["host__hostname"]
        verbose_name_plural = "host health"

    def __str__(self):
        return f"{self.host.hostname}: {self.state}"


class HealthEvent(models.Model):
    """A change of a host's health state, with the evidence that led to it."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="health_events")
    from_state = models.CharField(max_length=16, choices=HealthState.choices)
    to_state = models.CharField(max_length=16, choices=HealthState.choices)
    at = models.DateTimeField(db_index=True)
    evidence = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.host} {self.from_state} → {self.to_state} at {self.at:%Y-%m-%d %H:%M:%S}"


# --- whom we told -----------------------------------------------------------------------


def validate_webhook_url(value):
    URLValidator(schemes=["http", "https"])(value)


class AlertTarget(models.Model):
    required_roles = CONFIGURATION_ROLES

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook (JSON POST)"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Encrypted: a webhook URL usually carries a token. Shown only as shown_address.
    address = EncryptedTextField(max_length=500, help_text="Email address(es), comma-separated, or the webhook URL")
    signing_secret = EncryptedTextField(
        blank=True, editable=False,
        help_text="HMAC-SHA256 key signing each webhook delivery; generated for a webhook that has none",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if self.kind == self.Kind.WEBHOOK and not self.signing_secret:
            # Kept on the instance for the one answer that may show it (see the API and form).
            self.signing_secret = self.generated_signing_secret = webhooks.new_signing_secret()
        super().save(*args, **kwargs)

    @property
    def shown_address(self):
        return webhooks.mask_address(self.address)

    @property
    def recipients(self):
        return [part.strip() for part in self.address.split(",") if part.strip()]

    def clean(self):
        from django.core.validators import validate_email

        try:
            if self.kind == self.Kind.WEBHOOK:
                validate_webhook_url(self.address)
            elif self.kind == self.Kind.EMAIL:
                if not self.recipients:
                    raise ValidationError("Enter at least one email address.")
                for recipient in self.recipients:
                    validate_email(recipient)
        except ValidationError as exc:
            raise ValidationError({"address": exc.messages}) from exc


class Alert(models.Model):
    class Event(models.TextChoices):
        FAILED = "failed", "Host failed"
        RECOVERED = "recovered", "Host recovered"
        FLAPPING = "flapping", "Host flapping"
        HOST_KEY_CHANGED = "host_key_changed", "SSH host key changed"
        FENCE_FAILED = "fence_failed", "Fence failed (VMs not restarted)"
        HA_RESTARTED = "ha_restarted", "HA VMs restarted elsewhere"

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="health_alerts")
    event = models.CharField(max_length=32, choices=Event.choices)
    summary = models.CharField(max_length=300)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.summary


class AlertDelivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Gave up"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    target = models.ForeignKey(AlertTarget, null=True, on_delete=models.SET_NULL, related_name="deliveries")
    target_name = models.CharField(max_length=100, help_text="As it was when the alert was raised")
    kind = models.CharField(max_length=16, choices=AlertTarget.Kind.choices)
    address = EncryptedTextField(max_length=500, help_text="As it was when the alert was raised; stored encrypted")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["alert", "target_name"]
        verbose_name_plural = "alert deliveries"

    def __str__(self):
        return f"{self.alert} to {self.target_name} ({self.state})"

    @property
    def shown_address(self):
        return webhooks.mask_address(self.address)


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(AlertDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self):
        return f"{self.delivery} attempt at {self.at:%Y-%m-%d %H:%M:%S}"


# --- fencing and recovery -----------------------------------------------------------------


class FenceAgent(models.TextChoices):
    IPMI = "ipmi", "IPMI (ipmitool, lanplus)"
    LAB = "lab", "Lab power switch"
    MANUAL = "manual", "Manual (a human confirms it is off)"


class FenceDevice(models.Model):
    """How a host is powered off for sure before its VMs start elsewhere."""

    required_roles = CONFIGURATION_ROLES

    host = models.OneToOneField(Host, on_delete=models.CASCADE, related_name="fence_device")
    agent = models.CharField(max_length=16, choices=FenceAgent.choices)
    address = models.CharField(max_length=253, blank=True,
                               help_text="IPMI: the BMC's address. Lab: the lab host's name (empty: the hostname)")
    username = models.CharField(max_length=64, blank=True, help_text="IPMI user")
    password = EncryptedTextField(blank=True, help_text="IPMI password; stored encrypted, never shown again")
    lab_root = models.CharField(max_length=500, blank=True,
                                help_text="Lab only: the lab's state directory (empty: this installation's lab)")
    timeout_seconds = models.PositiveIntegerField(
        default=20, validators=[MinValueValidator(1), MaxValueValidator(600)],
        help_text="How long the agent may take to power off and read the power state back",
    )
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["host__hostname"]

    def __str__(self):
        return f"{self.host.hostname}: {self.get_agent_display()}"

    def clean(self):
        if self.agent == FenceAgent.IPMI and not self.address:
            raise ValidationError({"address": "An IPMI fence device needs the BMC's address."})


class FenceAttempt(models.Model):
    """One attempt to fence a host: who asked, the agent, what it answered, and the power
    state read back afterwards (an "off" command that succeeded is not proof)."""

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        FENCED = "fenced", "Fenced (read back off)"
        FAILED = "failed", "Failed"

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="fence_attempts")
    agent = models.CharField(max_length=16, choices=FenceAgent.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.RUNNING, db_index=True)
    power_state = models.CharField(max_length=16, blank=True, help_text="As read back: off, on or unknown")
    automatic = models.BooleanField(default=False, help_text="Asked by auto-recovery, not by a person")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    reason = models.CharField(max_length=300, blank=True)
    output = models.TextField(blank=True, help_text="What the agent did and answered, step by step")
    evidence = models.JSONField(default=dict, blank=True, help_text="The failure that led to the fence")
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self):
        return f"{self.host.hostname} {self.agent} {self.outcome}"

    @property
    def fenced(self):
        return self.outcome == self.Outcome.FENCED


class SiteRecoveryPolicy(models.Model):
    """Whether a failed host of the site is acted on at once (fence, restart its HA VMs)
    or only alerted on, with recovery proposed to an operator (the default)."""

    required_roles = CONFIGURATION_ROLES

    site = models.OneToOneField("inventory.Site", on_delete=models.CASCADE, related_name="recovery_policy")
    auto_recover = models.BooleanField(
        default=False, help_text="On: fence a failed hypervisor and restart its HA VMs at once. "
                                 "Off: alert and propose it to an operator",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "site recovery policies"

    def __str__(self):
        return f"{self.site}: auto-recovery {'on' if self.auto_recover else 'off'}"


class Recovery(models.Model):
    """What was (or is proposed to be) done about a failed host: fence it, then restart
    its HA VMs elsewhere; the Job carries the per-VM progress and the log."""

    class State(models.TextChoices):
        PROPOSED = "proposed", "Proposed (waiting for an operator)"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Done"
        PARTIAL = "partial", "Done, some VMs not restarted"
        FENCE_FAILED = "fence_failed", "Fence failed: nothing restarted"
        FAILED = "failed", "Failed"
        DISMISSED = "dismissed", "Dismissed"

    OPEN_STATES = (State.PROPOSED, State.RUNNING)

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="recoveries")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PROPOSED, db_index=True)
    automatic = models.BooleanField(default=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    evidence = models.JSONField(default=dict, blank=True, help_text="The detection's evidence of the failure")
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    fence_attempt = models.ForeignKey(FenceAttempt, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+")
    summary = models.CharField(max_length=500, blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="Restarted VMs (where) and unplaced ones (why)")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "recoveries"
        constraints = [
            models.UniqueConstraint(fields=["host"], condition=Q(state__in=["proposed", "running"]),
                                    name="one_open_recovery_per_host"),
        ]

    def __str__(self):
        return f"{self.host.hostname}: {self.get_state_display()}"
