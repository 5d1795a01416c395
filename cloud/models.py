"""Cloud accounts, the instance type catalogue of each region, the right-sizing policy,
what a workload costs on premises, and measured utilisation.

Prices are not here: they are data shipped with the product (cloud/data/) and refreshed
by `manage.py refresh_prices` (see cloud.services.prices).
"""

from decimal import Decimal
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator, URLValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from core.crypto import EncryptedTextField
from core.roles import Role as ConsoleRole
from hypervisors.models import VirtualMachine
from inventory.models import Host, Role

from . import conf

REGION_VALIDATOR = RegexValidator(
    r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$", "Enter an AWS region code such as us-east-1 or eu-west-1."
)
PERCENT = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]
# Accounts, cost models and the sizing policy: viewers read them, admins change them.
ADMIN_MANAGED = {"change": ConsoleRole.ADMIN, "delete": ConsoleRole.ADMIN}


class CloudAccount(models.Model):
    """Where workloads go: an AWS account and region, real or the embedded one.

    With no endpoint URL the account talks to real AWS; with one (the embedded moto
    server, a VPC endpoint, a test double) every call goes there instead. Switching is
    configuration, not code: cloud.drivers.aws.client() is the only place that reads it.
    """

    required_roles = ADMIN_MANAGED

    class AuthMode(models.TextChoices):
        KEYS = "keys", "Access key"
        ENVIRONMENT = "environment", "Environment / instance profile"

    name = models.CharField(max_length=100, unique=True)
    region = models.CharField(max_length=32, default="us-east-1", validators=[REGION_VALIDATOR])
    auth_mode = models.CharField("credentials", max_length=16, choices=AuthMode.choices, default=AuthMode.KEYS)
    access_key_id = models.CharField("access key ID", max_length=128, blank=True)
    secret_access_key = EncryptedTextField(blank=True, help_text="Stored encrypted; never shown again")
    endpoint_url = models.CharField(
        "endpoint URL", max_length=300, blank=True, validators=[URLValidator(schemes=["http", "https"])],
        help_text="Leave empty for real AWS; the embedded cloud is e.g. http://127.0.0.1:5000",
    )
    default_vpc = models.CharField("default VPC", max_length=255, blank=True,
                                   help_text="VPC id or Name tag for launched instances")
    default_subnet = models.CharField(max_length=255, blank=True)
    default_security_group = models.CharField(max_length=255, blank=True)
    default_key_pair = models.CharField(max_length=255, blank=True)
    is_embedded = models.BooleanField(default=False, help_text="The local moto server, not real AWS")
    # What the last connection test found.
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_ok = models.BooleanField(null=True, blank=True)
    last_check_message = models.CharField(max_length=500, blank=True)
    aws_account_id = models.CharField("AWS account ID", max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("cloud:cloudaccount_detail", args=[self.pk])

    @property
    def uses_real_aws(self):
        return not self.endpoint_url

    @property
    def embedded_rds_endpoint(self):
        """Where this embedded account's RDS instances keep their data (moto has no data
        plane): a database on the local PostgreSQL server, see cloud.services.rds_replatform."""
        if not self.is_embedded:
            return ""
        server, prefix = conf.rds_local_server()
        parts = urlsplit(server)
        if parts.password:  # never shown
            server = server.replace(f":{parts.password}@", ":***@", 1)
        return f"{server}/{prefix}<identifier>"

    def clean(self):
        if self.auth_mode == self.AuthMode.KEYS:
            errors = {}
            if not self.access_key_id:
                errors["access_key_id"] = "An access key needs its id (or choose the environment / instance profile)."
            if not self.secret_access_key:
                errors["secret_access_key"] = "An access key needs its secret."
            if errors:
                raise ValidationError(errors)


class InstanceType(models.Model):
    """One EC2 instance type offered in a region, as the account's describe_instance_types
    reported it (cached: refreshing is a job, see cloud.services.catalogue)."""

    class Generation(models.TextChoices):
        CURRENT = "current", "Current"
        PREVIOUS = "previous", "Previous"

    region = models.CharField(max_length=32, validators=[REGION_VALIDATOR])
    name = models.CharField(max_length=64)
    family = models.CharField(max_length=32, db_index=True)
    generation = models.CharField(max_length=8, choices=Generation.choices, default=Generation.CURRENT)
    vcpus = models.PositiveIntegerField()
    memory_mib = models.PositiveIntegerField()
    burstable = models.BooleanField(default=False)
    bare_metal = models.BooleanField(default=False)
    architecture = models.CharField(max_length=32, help_text="x86_64, arm64, ... (comma-separated when several)")
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["region", "family", "vcpus", "memory_mib", "name"]
        constraints = [models.UniqueConstraint(fields=["region", "name"], name="instance_type_unique_per_region")]
        indexes = [models.Index(fields=["region", "vcpus", "memory_mib"])]

    def __str__(self):
        return f"{self.name} ({self.region})"

    @property
    def current_generation(self):
        return self.generation == self.Generation.CURRENT


class SizingPolicy(models.Model):
    """How right-sizing chooses (docs/cloud-migrations.md defaults). One row, named "default", is used
    unless a request overrides some of its values."""

    required_roles = ADMIN_MANAGED

    class Architecture(models.TextChoices):
        X86_64 = "x86_64", "x86_64 (what on-premises servers run)"
        ARM64 = "arm64", "arm64 (Graviton)"
        ANY = "any", "Any"

    class Engine(models.TextChoices):
        POSTGRES = "postgres", "PostgreSQL"
        MYSQL = "mysql", "MySQL"

    name = models.CharField(max_length=64, unique=True, default="default")
    cpu_headroom = models.DecimalField(
        max_digits=4, decimal_places=2, default=Decimal("1.25"),
        validators=[MinValueValidator(Decimal("1")), MaxValueValidator(Decimal("10"))],
        help_text="vCPU = ceil(source vCPU × p95 CPU use × this)",
    )
    memory_headroom = models.DecimalField(
        max_digits=4, decimal_places=2, default=Decimal("1.25"),
        validators=[MinValueValidator(Decimal("1")), MaxValueValidator(Decimal("10"))],
        help_text="memory = max(source memory × p95 memory use × this, minimum memory)",
    )
    min_memory_mib = models.PositiveIntegerField(default=1024, validators=[MaxValueValidator(1024 * 1024)])
    allow_previous_generation = models.BooleanField(default=False)
    allow_burstable = models.BooleanField(default=False, help_text="t2/t3/t4g: CPU credits, not steady CPU")
    allow_bare_metal = models.BooleanField(default=False)
    architecture = models.CharField(max_length=8, choices=Architecture.choices, default=Architecture.X86_64)
    retire_max_cpu_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("2"), validators=PERCENT,
        help_text="Suggest retiring a workload whose CPU never went above this…",
    )
    retire_min_days = models.PositiveIntegerField(default=14, validators=[MaxValueValidator(3650)],
                                                  help_text="…over at least this many days of data")
    database_role = models.CharField(max_length=100, default="db",
                                     help_text="Role slug of database servers: they get an RDS class")
    production_tag = models.CharField(max_length=64, default="prod",
                                      help_text="Tag slug of production workloads: their databases are Multi-AZ")
    default_db_engine = models.CharField(max_length=16, choices=Engine.choices, default=Engine.POSTGRES,
                                         help_text='Unless the workload has a "mysql" or "postgres" tag')

    class Meta:
        verbose_name_plural = "sizing policies"

    def __str__(self):
        return self.name

    @classmethod
    def default(cls):
        return cls.objects.get_or_create(name="default")[0]


class OnPremCostModel(models.Model):
    """What a workload costs per month on premises, set by an admin: one per role and
    kind of workload, with a default (no role) for every role without its own."""

    required_roles = ADMIN_MANAGED

    class Kind(models.TextChoices):
        HOST = "host", "Physical host"
        VM = "vm", "Virtual machine"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.HOST)
    role = models.ForeignKey(Role, null=True, blank=True, on_delete=models.CASCADE, related_name="cost_models",
                             help_text="Empty: the default for every role without a model of its own")
    hardware_amortisation = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"),
                                                validators=[MinValueValidator(Decimal("0"))],
                                                help_text="Purchase price spread over its life, per month")
    power = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"),
                                validators=[MinValueValidator(Decimal("0"))], help_text="Power and cooling, per month")
    rack = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"),
                               validators=[MinValueValidator(Decimal("0"))],
                               help_text="Rack space, network and hands, per month")
    licences = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"),
                                   validators=[MinValueValidator(Decimal("0"))],
                                   help_text="OS, hypervisor and software licences and support, per month")
    notes = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["kind", "role__name", "name"]
        verbose_name = "on-premises cost model"
        constraints = [
            models.UniqueConstraint(fields=["kind", "role"], condition=Q(role__isnull=False),
                                    name="cost_model_unique_per_kind_and_role"),
            models.UniqueConstraint(fields=["kind"], condition=Q(role__isnull=True),
                                    name="cost_model_one_default_per_kind"),
        ]

    def __str__(self):
        return self.name

    @property
    def monthly_total(self):
        return self.hardware_amortisation + self.power + self.rack + self.licences

    def clean(self):
        # Said in words, on the field (the API and the console both call clean()).
        clash = OnPremCostModel.objects.filter(kind=self.kind, role_id=self.role_id).exclude(pk=self.pk)
        if clash.exists():
            what = f"the {self.role} role" if self.role_id else "the default (no role)"
            raise ValidationError({"role": f"There is already a {self.get_kind_display().lower()} cost model for {what}."})


class UtilisationRecord(models.Model):
    """Measured utilisation of one host or VM: what right-sizing uses when it exists.

    Entered by hand for now; the health checks will write these (source "health").
    """

    host = models.OneToOneField(Host, null=True, blank=True, on_delete=models.CASCADE, related_name="utilisation")
    vm = models.OneToOneField(VirtualMachine, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="utilisation")
    p95_cpu_percent = models.DecimalField(max_digits=5, decimal_places=2, validators=PERCENT)
    p95_memory_percent = models.DecimalField(max_digits=5, decimal_places=2, validators=PERCENT)
    max_cpu_percent = models.DecimalField(max_digits=5, decimal_places=2, validators=PERCENT)
    days = models.PositiveIntegerField(validators=[MaxValueValidator(3650)], help_text="Days of data the figures cover")
    source = models.CharField(max_length=32, default="manual")
    measured_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-measured_at"]
        constraints = [
            models.CheckConstraint(condition=Q(host__isnull=False, vm__isnull=True) | Q(host__isnull=True, vm__isnull=False),
                                   name="utilisation_of_one_host_or_one_vm"),
        ]

    def __str__(self):
        return f"Utilisation of {self.host or self.vm}"

    def clean(self):
        if (self.host_id is None) == (self.vm_id is None):
            raise ValidationError("Give exactly one of host and vm.")
        if self.max_cpu_percent is not None and self.p95_cpu_percent is not None \
                and self.max_cpu_percent < self.p95_cpu_percent:
            raise ValidationError({"max_cpu_percent": "The maximum cannot be below the 95th percentile."})


class DiskReplication(models.Model):
    """One disk being copied to EBS block by block (cloud.services.replication).

    Each pass is a snapshot (ReplicationSnapshot): the first holds every non-zero block,
    the next ones only what changed, with the previous as parent. Which snapshot holds
    each block, and its SHA-256, is the block map (ReplicatedBlock rows), written as
    blocks are acknowledged so an interrupted pass resumes where it stopped.
    """

    class Format(models.TextChoices):
        RAW = "raw", "raw"
        QCOW2 = "qcow2", "qcow2"

    class SourceKind(models.TextChoices):
        """Where the disk lives (hypervisors.services.disk_sources)."""
        VM = "vm", "VM disk on its hypervisor"
        HOST = "host", "Physical host's block device"
        IMAGE = "image", "Image file under a declared root"

    class State(models.TextChoices):
        NEW = "new", "Not started"
        REPLICATING = "replicating", "Replicating"
        REPLICATED = "replicated", "Replicated"
        INTERRUPTED = "interrupted", "Interrupted (resumable)"
        FAILED = "failed", "Failed (resumable)"

    account = models.ForeignKey(CloudAccount, on_delete=models.PROTECT, related_name="replications")
    name = models.CharField(max_length=200, blank=True)
    source_kind = models.CharField(max_length=8, choices=SourceKind.choices, default=SourceKind.IMAGE)
    source_vm = models.ForeignKey("hypervisors.VirtualMachine", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    source_host = models.ForeignKey("inventory.Host", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    source_disk = models.CharField(max_length=1000, blank=True,
                                   help_text="The VM's disk target, the host's device name, or the image's path")
    source_path = models.CharField(max_length=1000, help_text="Where the disk is, in words")
    source_format = models.CharField(max_length=8, choices=Format.choices, default=Format.RAW)
    source_checkpoint = models.CharField(max_length=200, blank=True,
                                         help_text="The source's named point of the last completed pass (CBT)")
    size_bytes = models.BigIntegerField(help_text="Virtual size of the disk")
    block_size = models.PositiveIntegerField(default=512 * 1024)
    state = models.CharField(max_length=16, choices=State.choices, default=State.NEW)
    # The current (or last) pass: what it has to send and what it sent.
    bytes_total = models.BigIntegerField(default=0)
    bytes_sent = models.BigIntegerField(default=0)
    blocks_total = models.PositiveIntegerField(default=0)
    blocks_sent = models.PositiveIntegerField(default=0)
    throughput_mbps = models.FloatField(default=0, help_text="MB/s (10^6 bytes) of block data in the last pass")
    last_error = models.TextField(blank=True)
    ami_id = models.CharField("AMI id", max_length=64, blank=True)
    last_replicated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name or self.source_path

    @property
    def backlog_bytes(self):
        """Bytes of the current pass not yet sent."""
        return max(0, self.bytes_total - self.bytes_sent)

    @property
    def stalled(self):
        """A pass that shows no progress any more: its worker died or hangs."""
        return self.state == self.State.REPLICATING and self.updated_at is not None and \
            (timezone.now() - self.updated_at).total_seconds() > conf.replication_stale_after()

    @property
    def snapshot_chain(self):
        """Ids of the completed snapshots, oldest first."""
        return [s.snapshot_id for s in self.snapshots.all() if s.state == ReplicationSnapshot.State.COMPLETED]

    @property
    def latest_snapshot_id(self):
        chain = self.snapshot_chain
        return chain[-1] if chain else ""


class ReplicationSnapshot(models.Model):
    """One pass of a replication: an EBS snapshot, pending until every block is in."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        COMPLETED = "completed", "Completed"
        DELETED = "deleted", "Deleted (after the cutover was finalised)"

    replication = models.ForeignKey(DiskReplication, on_delete=models.CASCADE, related_name="snapshots")
    generation = models.PositiveIntegerField(help_text="1 for the full copy, then 2, 3… for each incremental")
    snapshot_id = models.CharField(max_length=64)
    parent_snapshot_id = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    started_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["replication", "generation"]
        constraints = [models.UniqueConstraint(fields=["replication", "generation"], name="replication_generation_unique")]

    def __str__(self):
        return self.snapshot_id


class ReplicationPass(models.Model):
    """One replicate() call: how it found the changes and what it moved, failed ones too."""

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        SENT = "sent", "Sent"
        UNCHANGED = "unchanged", "Nothing changed"
        FAILED = "failed", "Failed"

    replication = models.ForeignKey(DiskReplication, on_delete=models.CASCADE, related_name="passes")
    snapshot = models.ForeignKey(ReplicationSnapshot, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="passes")
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.RUNNING)
    method = models.CharField(max_length=32, blank=True, help_text="How the changed blocks were found")
    bytes_scanned = models.BigIntegerField(default=0, help_text="Read at the source")
    bytes_received = models.BigIntegerField(default=0, help_text="From the source to the worker")
    bytes_sent = models.BigIntegerField(default=0, help_text="To the cloud")
    blocks_sent = models.PositiveIntegerField(default=0)
    blocks_unchanged = models.PositiveIntegerField(default=0)
    zero_blocks_skipped = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["replication", "started_at", "pk"]

    def __str__(self):
        return f"{self.replication} pass {self.pk}"


class ReplicatedBlock(models.Model):
    """The block map, one row per block a snapshot holds: its index (in blocks of the
    replication's block size) and the SHA-256 of what was sent (32 raw bytes). A
    block's current copy is in the newest snapshot that has a row for it."""

    snapshot = models.ForeignKey(ReplicationSnapshot, on_delete=models.CASCADE, related_name="blocks")
    index = models.PositiveIntegerField()
    sha256 = models.BinaryField(max_length=32)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["snapshot", "index"], name="replicated_block_unique")]

    def __str__(self):
        return f"{self.snapshot_id}#{self.index}"


class RdsDatabase(models.Model):
    """An RDS instance this product created (cloud.services.rds_replatform), with the
    master password it chose, kept encrypted so the data can be copied and checked."""

    account = models.ForeignKey(CloudAccount, on_delete=models.PROTECT, related_name="rds_databases")
    identifier = models.CharField(max_length=63)
    engine = models.CharField(max_length=32, default="postgres")
    db_class = models.CharField("DB instance class", max_length=64)
    storage_gb = models.PositiveIntegerField()
    master_username = models.CharField(max_length=63, default="opsconsole")
    master_password = EncryptedTextField(blank=True)
    database_name = models.CharField(max_length=63, default="postgres")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["identifier"]
        constraints = [models.UniqueConstraint(fields=["account", "identifier"], name="rds_database_unique_per_account")]

    def __str__(self):
        return self.identifier
