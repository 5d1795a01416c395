from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse

from core.crypto import EncryptedTextField
from core.models import Job
from inventory.models import Host, Role, Tag

from .validators import validate_libvirt_uri


def validate_absolute_path(value):
    from django.core.exceptions import ValidationError

    if value and not value.startswith("/"):
        raise ValidationError("Enter an absolute path, such as /srv/vmstore.")


class Hypervisor(models.Model):
    class Connection(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"
        CONNECTED = "connected", "Connected"
        UNREACHABLE = "unreachable", "Unreachable"

    host = models.OneToOneField(Host, on_delete=models.PROTECT, related_name="hypervisor")
    uri = models.CharField(max_length=300, unique=True, validators=[validate_libvirt_uri])
    credentials = EncryptedTextField(blank=True, help_text="SSH private key or TLS material; stored encrypted, never shown")
    cpu_overcommit = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("4.0"), validators=[MinValueValidator(Decimal("0.1"))]
    )
    memory_overcommit = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("1.0"), validators=[MinValueValidator(Decimal("0.1"))]
    )
    shared_storage = models.BooleanField(
        default=False,
        help_text="Guest disks live on storage every hypervisor of the site mounts at the same path "
        "(libvirt cannot always tell, e.g. a plain directory: then live migration is declared safe by us)",
    )
    shared_storage_path = models.CharField(
        max_length=500, blank=True, validators=[validate_absolute_path],
        help_text="Where the shared storage is mounted: disks outside it are local and a cold migration copies "
        "them over SSH (empty: every disk of a shared-storage hypervisor counts as shared)",
    )
    enabled = models.BooleanField(default=True)
    connection = models.CharField(max_length=16, choices=Connection.choices, default=Connection.UNKNOWN)
    last_seen = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    # What libvirt reports about the machine, refreshed by each sync.
    libvirt_hostname = models.CharField(max_length=253, blank=True)
    cpus = models.PositiveIntegerField(default=0, help_text="Logical CPUs libvirt reports")
    memory_mib = models.PositiveIntegerField(default=0, help_text="Memory libvirt reports")
    libvirt_version = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["host__hostname"]

    def __str__(self):
        return self.host.hostname

    def get_absolute_url(self):
        return reverse("hypervisors:hypervisor_detail", args=[self.pk])

    @property
    def name(self):
        return self.host.hostname

    @property
    def physical_cpus(self):
        """What libvirt reports, else what the inventory says the host has."""
        return self.cpus or self.host.cpu_cores

    @property
    def physical_memory_mib(self):
        return self.memory_mib or self.host.memory_mib

    @property
    def vcpu_capacity(self):
        return int(self.physical_cpus * self.cpu_overcommit)

    @property
    def memory_capacity_mib(self):
        return int(self.physical_memory_mib * self.memory_overcommit)

    def shares_disk(self, path):
        """Whether a disk at `path` sits on this hypervisor's shared storage."""
        if not self.shared_storage:
            return False
        if not self.shared_storage_path:
            return True
        return path.startswith(self.shared_storage_path.rstrip("/") + "/")


class VirtualMachine(models.Model):
    """A libvirt domain as last seen. libvirt is the truth: these rows are written by the
    sync and by our own actions, never typed in by hand."""

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        SHUTOFF = "shutoff", "Shut off"
        CRASHED = "crashed", "Crashed"
        PMSUSPENDED = "suspended", "Suspended"
        BLOCKED = "blocked", "Blocked"
        SHUTDOWN = "shutting-down", "Shutting down"
        UNKNOWN = "unknown", "Unknown"
        GONE = "gone", "Gone from libvirt"

    uuid = models.UUIDField(unique=True)
    name = models.CharField(max_length=200, db_index=True)
    hypervisor = models.ForeignKey(Hypervisor, null=True, blank=True, on_delete=models.SET_NULL, related_name="vms")
    state = models.CharField(max_length=16, choices=State.choices, default=State.UNKNOWN, db_index=True)
    vcpus = models.PositiveIntegerField(default=1)
    memory_mib = models.PositiveIntegerField(default=0)
    disks = models.JSONField(default=list, blank=True)
    nics = models.JSONField(default=list, blank=True)
    autostart = models.BooleanField(default=False)
    persistent = models.BooleanField(default=True)
    # What we know and libvirt does not.
    ha_enabled = models.BooleanField(default=False, help_text="Restart elsewhere if its hypervisor dies")
    anti_affinity_group = models.CharField(
        max_length=64, blank=True, help_text="VMs of one group never share a hypervisor"
    )
    role = models.ForeignKey(Role, null=True, blank=True, on_delete=models.SET_NULL, related_name="vms")
    inventory_host = models.OneToOneField(
        Host, null=True, blank=True, on_delete=models.SET_NULL, related_name="vm",
        help_text="The inventory host (service) this VM is",
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="vms")
    owner = models.CharField(max_length=100, blank=True)
    cloud_instance_id = models.CharField(
        max_length=100, blank=True, help_text="The EC2 instance or RDS database it was migrated to (kept shut off here)"
    )
    last_seen = models.DateTimeField(null=True, blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    busy_job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The job moving or changing this VM right now; no second one may start",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("hypervisors:vm_detail", args=[self.pk])

    @property
    def is_stale(self):
        """Shown as-is but flagged: libvirt no longer reports it, or its hypervisor is unreachable."""
        return self.state in (self.State.GONE, self.State.UNKNOWN)
