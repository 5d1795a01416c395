"""Migration plans, waves and runs.

A plan holds the workloads chosen in the wizard (each a PlannedWorkload: its strategy,
target and cost, as the assessment proposed and the operator changed), grouped into
ordered waves. Dependencies between workloads ("this app server talks to that
database") are recorded here, on inventory hosts and hypervisor VMs, and decide the
waves. A Run executes a plan (or one wave) as RunSteps: each step is a persisted state
machine with a checkpoint, so a run survives a worker that dies mid-step.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from cloud.models import CloudAccount
from core.crypto import EncryptedTextField
from core.models import Job
from core.roles import Role as ConsoleRole
from hypervisors.models import Hypervisor, VirtualMachine
from inventory.models import Host

# Planning is operators' work: they make, change and delete plans, waves and dependencies.
PLANNING_ROLES = {"change": ConsoleRole.OPERATOR, "delete": ConsoleRole.OPERATOR}


class Strategy(models.TextChoices):
    RETAIN = "retain", "Retain (stay where it is)"
    RETIRE = "retire", "Retire"
    REHOST_HYPERVISOR = "rehost-hypervisor", "Rehost to another hypervisor or spare"
    REHOST_EC2 = "rehost-ec2", "Rehost to EC2"
    REPLATFORM_RDS = "replatform-rds", "Replatform the database to RDS"


def one_of(first, second):
    """A check constraint condition: exactly one of two nullable FKs is set."""
    return (Q(**{f"{first}__isnull": False}, **{f"{second}__isnull": True})
            | Q(**{f"{first}__isnull": True}, **{f"{second}__isnull": False}))


class WorkloadRef:
    """Mixin of a row naming a host or a VM (exactly one, fields `host` and `vm`): what moves."""

    @property
    def workload(self):
        return self.vm if self.vm_id else self.host

    @property
    def workload_key(self):
        return ("vm", self.vm_id) if self.vm_id else ("host", self.host_id)


class Dependency(models.Model):
    """`source` needs `target` (an app server talks to its database): they move in the
    same wave, or the target moves first."""

    required_roles = PLANNING_ROLES

    source_host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.CASCADE, related_name="dependencies")
    source_vm = models.ForeignKey(VirtualMachine, null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="dependencies")
    target_host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.CASCADE, related_name="dependents")
    target_vm = models.ForeignKey(VirtualMachine, null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="dependents")
    description = models.CharField(max_length=200, blank=True, help_text='e.g. "PostgreSQL on 5432"')
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "dependencies"
        constraints = [
            models.CheckConstraint(condition=one_of("source_host", "source_vm"), name="dependency_one_source"),
            models.CheckConstraint(condition=one_of("target_host", "target_vm"), name="dependency_one_target"),
        ]

    def __str__(self):
        return f"{self.source} → {self.target}"

    @property
    def source(self):
        return self.source_vm if self.source_vm_id else self.source_host

    @property
    def target(self):
        return self.target_vm if self.target_vm_id else self.target_host

    @property
    def source_key(self):
        return ("vm", self.source_vm_id) if self.source_vm_id else ("host", self.source_host_id)

    @property
    def target_key(self):
        return ("vm", self.target_vm_id) if self.target_vm_id else ("host", self.target_host_id)

    def clean(self):
        errors = {}
        if (self.source_host_id is None) == (self.source_vm_id is None):
            errors["source"] = "Give exactly one source: a host or a VM."
        if (self.target_host_id is None) == (self.target_vm_id is None):
            errors["target"] = "Give exactly one target: a host or a VM."
        if not errors and self.source_key == self.target_key:
            errors["target"] = "A workload cannot depend on itself."
        if not errors and Dependency.objects.filter(
                source_host_id=self.source_host_id, source_vm_id=self.source_vm_id, target_host_id=self.target_host_id,
                target_vm_id=self.target_vm_id).exclude(pk=self.pk).exists():
            errors["target"] = f"{self.source} already depends on {self.target}."
        if errors:
            raise ValidationError(errors)


class MigrationPlan(models.Model):
    required_roles = PLANNING_ROLES

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        READY = "ready", "Ready to start"
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    # Targets (wizard step "account and network"); empty: the account's defaults.
    account = models.ForeignKey(CloudAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="plans")
    subnet = models.CharField(max_length=255, blank=True)
    security_group = models.CharField(max_length=255, blank=True)
    key_pair = models.CharField(max_length=255, blank=True)
    dns_zone = models.CharField("DNS zone", max_length=255, blank=True,
                                help_text="Route 53 zone whose records follow a workload at cutover, e.g. corp.example.")
    sync_every_minutes = models.PositiveIntegerField(
        "continuous replication (minutes)", default=15, validators=[MaxValueValidator(24 * 60)],
        help_text="While a run waits for cutover, send the EC2 disks' changed blocks this often (0: only when asked)",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("migrations_tool:plan_assessment", args=[self.pk])

    @property
    def target_subnet(self):
        return self.subnet or (self.account.default_subnet if self.account_id else "")

    @property
    def target_security_group(self):
        return self.security_group or (self.account.default_security_group if self.account_id else "")

    @property
    def target_key_pair(self):
        return self.key_pair or (self.account.default_key_pair if self.account_id else "")


class Wave(models.Model):
    required_roles = PLANNING_ROLES

    plan = models.ForeignKey(MigrationPlan, on_delete=models.CASCADE, related_name="waves")
    number = models.PositiveIntegerField(help_text="Waves move in this order")
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["plan", "number"]
        constraints = [models.UniqueConstraint(fields=["plan", "number"], name="wave_number_unique_per_plan")]

    def __str__(self):
        return self.name or f"Wave {self.number}"


class PlannedWorkload(WorkloadRef, models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        MIGRATING = "migrating", "Migrating"
        READY_FOR_CUTOVER = "ready-for-cutover", "Ready for cutover"
        MIGRATED = "migrated", "Migrated"
        FINALIZED = "finalized", "Finalized (no way back)"
        ROLLED_BACK = "rolled-back", "Rolled back"
        FAILED = "failed", "Failed"

    plan = models.ForeignKey(MigrationPlan, on_delete=models.CASCADE, related_name="workloads")
    wave = models.ForeignKey(Wave, null=True, blank=True, on_delete=models.SET_NULL, related_name="workloads")
    host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.CASCADE, related_name="planned_moves")
    vm = models.ForeignKey(VirtualMachine, null=True, blank=True, on_delete=models.CASCADE,
                           related_name="planned_moves")
    name = models.CharField(max_length=200, help_text="The workload's name when it was assessed")
    strategy = models.CharField(max_length=24, choices=Strategy.choices, default=Strategy.RETAIN)
    suggested_strategy = models.CharField(max_length=24, choices=Strategy.choices, default=Strategy.RETAIN)
    reason = models.TextField(blank=True)
    basis = models.CharField(max_length=16, blank=True, help_text="utilisation or allocation")
    utilisation_source = models.CharField(max_length=32, blank=True, help_text="health, manual... (empty: none)")
    required_vcpus = models.PositiveIntegerField(default=0)
    required_memory_mib = models.PositiveIntegerField(default=0)
    # Targets
    instance_type = models.CharField(max_length=64, blank=True)
    rds_class = models.CharField("RDS class", max_length=64, blank=True)
    engine = models.CharField(max_length=16, blank=True)
    multi_az = models.BooleanField("Multi-AZ", default=False)
    target_hypervisor = models.ForeignKey(Hypervisor, null=True, blank=True, on_delete=models.SET_NULL,
                                          related_name="+")
    storage_gb = models.PositiveIntegerField(default=0)
    dns_name = models.CharField("DNS name", max_length=255, blank=True,
                                help_text="Record that points at the service; updated at cutover")
    source_dsn = EncryptedTextField("source database DSN", blank=True,
                                    help_text="Where the data is read from (replatform); stored encrypted")
    disk = models.CharField(max_length=500, blank=True,
                            help_text="The disk to replicate: one of the VM's disks (default: its first), one of "
                                      "the host's block devices, or an image under a declared root")
    # Cost per month (cloud.services.cost)
    onprem_monthly = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    aws_monthly = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    # What happened
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.PLANNED)
    cloud_instance_id = models.CharField(max_length=64, blank=True)
    cloud_address = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["plan", "wave__number", "name"]
        constraints = [
            models.CheckConstraint(condition=one_of("host", "vm"), name="planned_workload_one_host_or_vm"),
            models.UniqueConstraint(fields=["plan", "host"], condition=Q(host__isnull=False),
                                    name="planned_host_once_per_plan"),
            models.UniqueConstraint(fields=["plan", "vm"], condition=Q(vm__isnull=False),
                                    name="planned_vm_once_per_plan"),
        ]

    def __str__(self):
        return self.name

    @property
    def kind(self):
        return "vm" if self.vm_id else "host"

    @property
    def target_label(self):
        if self.strategy == Strategy.REHOST_EC2:
            return self.instance_type
        if self.strategy == Strategy.REPLATFORM_RDS:
            return f"{self.rds_class} {self.engine}{' Multi-AZ' if self.multi_az else ''}"
        if self.strategy == Strategy.REHOST_HYPERVISOR:
            return str(self.target_hypervisor) if self.target_hypervisor_id else "placement decides"
        return ""

    @property
    def difference(self):
        if self.onprem_monthly is None or self.aws_monthly is None:
            return None
        return self.aws_monthly - self.onprem_monthly

    @property
    def monthly_after(self):
        """What the workload costs a month after the plan: on premises when it stays
        (retain, another hypervisor), nothing when retired, AWS when it goes there."""
        if self.strategy == Strategy.RETIRE:
            return Decimal("0")
        if self.strategy in (Strategy.REHOST_EC2, Strategy.REPLATFORM_RDS):
            return self.aws_monthly
        return self.onprem_monthly


class Run(models.Model):
    """One execution of a plan (or of one of its waves)."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        WAITING = "waiting", "Waiting for cutover"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        ROLLED_BACK = "rolled_back", "Rolled back"

    ACTIVE_STATES = (State.PENDING, State.RUNNING)
    OPEN_STATES = (*ACTIVE_STATES, State.PAUSED, State.WAITING)  # "in progress": not over yet

    class Control(models.TextChoices):
        NONE = "", "None"
        PAUSE = "pause", "Pause requested"
        CANCEL = "cancel", "Cancel requested"

    plan = models.ForeignKey(MigrationPlan, on_delete=models.CASCADE, related_name="runs")
    wave = models.ForeignKey(Wave, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs",
                             help_text="Empty: every wave, in order")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    control = models.CharField(max_length=8, choices=Control.choices, default=Control.NONE, blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                            help_text="The job executing the run's steps now (or last)")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    message = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Run #{self.pk} of {self.plan}"

    def get_absolute_url(self):
        return reverse("migrations_tool:run_detail", args=[self.pk])


class StepState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    ROLLED_BACK = "rolled_back", "Rolled back"


# The state machine of a step. running -> pending is a pause (or a resumed worker);
# failed/cancelled -> pending is a retry; done -> rolled_back undoes it.
STEP_TRANSITIONS = {
    StepState.PENDING: {StepState.RUNNING, StepState.CANCELLED},
    StepState.RUNNING: {StepState.DONE, StepState.FAILED, StepState.CANCELLED, StepState.PENDING},
    StepState.FAILED: {StepState.PENDING, StepState.CANCELLED, StepState.ROLLED_BACK},
    StepState.CANCELLED: {StepState.PENDING},
    StepState.DONE: {StepState.ROLLED_BACK},
    StepState.ROLLED_BACK: {StepState.PENDING},
}


class RunStep(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    workload = models.ForeignKey(PlannedWorkload, on_delete=models.CASCADE, related_name="steps")
    kind = models.CharField(max_length=32, help_text="What the step does (see migrations_tool.services.executors)")
    position = models.PositiveIntegerField(help_text="Steps run in this order")
    state = models.CharField(max_length=16, choices=StepState.choices, default=StepState.PENDING, db_index=True)
    checkpoint = models.JSONField(default=dict, blank=True,
                                  help_text="What the step already did: a resumed step starts from here")
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=300, blank=True)
    bytes_total = models.BigIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    throughput_bps = models.BigIntegerField("throughput (bytes/s)", default=0)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "position"], name="step_position_unique_per_run")]

    def __str__(self):
        return f"{self.kind} of {self.workload}"

    @property
    def bytes_left(self):
        return max(0, self.bytes_total - self.bytes_done)
