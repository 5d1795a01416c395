from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from core.crypto import EncryptedTextField
from core.roles import Role as ConsoleRole

from .validators import validate_dns_label

# Reference data (sites, racks, roles, naming schemes, tags): admins change it; hosts: operators.
REFERENCE_DATA_ROLES = {"change": ConsoleRole.ADMIN, "delete": ConsoleRole.ADMIN}

MAC_VALIDATOR = RegexValidator(
    r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$", "Enter a MAC address as six colon-separated hex pairs, e.g. 52:54:00:12:34:56."
)


class Site(models.Model):
    required_roles = REFERENCE_DATA_ROLES

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=200, blank=True)
    address = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("inventory:site_detail", args=[self.pk])


class Rack(models.Model):
    required_roles = REFERENCE_DATA_ROLES

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="racks")
    name = models.CharField(max_length=100)
    u_height = models.PositiveSmallIntegerField(
        default=42, validators=[MinValueValidator(1), MaxValueValidator(100)], help_text="Height in rack units"
    )
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["site__name", "name"]
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="rack_name_unique_per_site")]

    def __str__(self):
        return f"{self.site.name} / {self.name}"

    def get_absolute_url(self):
        return reverse("inventory:rack_detail", args=[self.pk])


class NamingScheme(models.Model):
    """A themed pool of host names (solar bodies, comic characters...)."""

    required_roles = REFERENCE_DATA_ROLES

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=200, blank=True)
    names = models.JSONField(default=list, help_text="The pool, in the order names are handed out")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        if not isinstance(self.names, list) or not all(isinstance(n, str) for n in self.names):
            raise ValidationError({"names": "The pool must be a list of names."})
        bad = []
        for name in self.names:
            try:
                validate_dns_label(name)
            except ValidationError:
                bad.append(name)
        if bad:
            raise ValidationError({"names": f"Not valid host names: {', '.join(bad[:10])}"})
        if len(set(self.names)) != len(self.names):
            raise ValidationError({"names": "The pool lists a name twice."})


class Role(models.Model):
    """What a host does: app server, database server, hypervisor..."""

    required_roles = REFERENCE_DATA_ROLES

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=200, blank=True)
    naming_scheme = models.ForeignKey(
        NamingScheme, null=True, blank=True, on_delete=models.SET_NULL, related_name="roles"
    )
    strict_naming = models.BooleanField(
        default=False, help_text="Hosts of this role must take a name from the scheme's pool"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Tag(models.Model):
    required_roles = REFERENCE_DATA_ROLES

    name = models.CharField(max_length=64, unique=True)
    slug = models.SlugField(max_length=64, unique=True)
    color = models.CharField(max_length=7, default="#6c757d", validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$")])

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class HostStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    SPARE = "spare", "Spare"
    MAINTENANCE = "maintenance", "Maintenance"
    FAILED = "failed", "Failed"
    MIGRATED = "migrated", "Migrated"  # its workload now runs in the cloud (cloud_instance_id)
    DECOMMISSIONED = "decommissioned", "Decommissioned"


# The lifecycle. Decommissioned is final; anything may be decommissioned.
STATUS_TRANSITIONS = {
    HostStatus.PLANNED: {HostStatus.ACTIVE, HostStatus.SPARE},
    HostStatus.ACTIVE: {HostStatus.MAINTENANCE, HostStatus.FAILED, HostStatus.SPARE, HostStatus.MIGRATED},
    HostStatus.SPARE: {HostStatus.ACTIVE, HostStatus.MAINTENANCE, HostStatus.FAILED},
    HostStatus.MAINTENANCE: {HostStatus.ACTIVE, HostStatus.SPARE, HostStatus.MIGRATED},
    HostStatus.FAILED: {HostStatus.MAINTENANCE},
    # Back to active when a migration is rolled back; decommissioned once it is kept.
    HostStatus.MIGRATED: {HostStatus.ACTIVE},
    HostStatus.DECOMMISSIONED: set(),
}
for _source, _targets in STATUS_TRANSITIONS.items():
    if _source != HostStatus.DECOMMISSIONED:
        _targets.add(HostStatus.DECOMMISSIONED)


def allowed_transitions(status):
    return sorted(STATUS_TRANSITIONS.get(status, set()))


def check_transition(old, new):
    """Raise ValidationError (on the status field) unless old -> new is allowed."""
    if old == new or old is None:
        return
    if new not in STATUS_TRANSITIONS.get(old, set()):
        allowed = ", ".join(allowed_transitions(old)) or "none (final state)"
        raise ValidationError(
            {"status": f"A host cannot go from {old} to {new}. Allowed from {old}: {allowed}."},
            code="invalid_transition",
        )


class Host(models.Model):
    required_roles = {"change": ConsoleRole.OPERATOR, "delete": ConsoleRole.ADMIN}

    hostname = models.CharField(max_length=63, unique=True, validators=[validate_dns_label])
    role = models.ForeignKey(Role, null=True, blank=True, on_delete=models.PROTECT, related_name="hosts")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="hosts")
    rack = models.ForeignKey(Rack, null=True, blank=True, on_delete=models.PROTECT, related_name="hosts")
    position = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Lowest rack unit the host occupies"
    )
    u_height = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1), MaxValueValidator(20)])
    status = models.CharField(max_length=16, choices=HostStatus.choices, default=HostStatus.PLANNED, db_index=True)
    serial = models.CharField(max_length=100, blank=True)
    asset_tag = models.CharField(max_length=50, null=True, blank=True, unique=True)
    vendor = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=100, blank=True)
    cpu_sockets = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1), MaxValueValidator(16)])
    cpu_cores = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(4096)], help_text="Total physical cores"
    )
    memory_mib = models.PositiveIntegerField(
        default=1024, validators=[MinValueValidator(1), MaxValueValidator(2**31 - 1)], help_text="Memory in MiB"
    )
    disks = models.JSONField(
        default=list, blank=True, help_text='List of {"name": "sda", "size_gb": 480, "kind": "ssd"}'
    )
    mgmt_address = models.GenericIPAddressField(
        null=True, blank=True, help_text="Address the OS is managed at (SSH, Ansible)"
    )
    bmc_address = models.CharField(max_length=253, blank=True, help_text="Out-of-band controller (IPMI/iDRAC/iLO)")
    bmc_username = models.CharField(max_length=100, blank=True)
    bmc_password = EncryptedTextField(blank=True, help_text="Stored encrypted; never shown again")
    owner = models.CharField(max_length=100, blank=True, help_text="Owning team")
    cloud_instance_id = models.CharField(
        max_length=100, blank=True, help_text="The EC2 instance or RDS database its workload was migrated to"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="hosts")
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["hostname"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(position__isnull=True) | models.Q(rack__isnull=False),
                name="host_position_needs_rack",
            )
        ]

    def __str__(self):
        return self.hostname

    def get_absolute_url(self):
        return reverse("inventory:host_detail", args=[self.pk])

    @property
    def memory_gib(self):
        return round(self.memory_mib / 1024, 1)

    @property
    def total_disk_gb(self):
        return sum(int(d.get("size_gb") or 0) for d in self.disks or [])

    @property
    def units(self):
        if self.position is None:
            return range(0)
        return range(self.position, self.position + self.u_height)

    def clean(self):
        errors = {}
        self._clean_disks(errors)
        self._clean_rack(errors)
        self._clean_naming(errors)
        if errors:
            raise ValidationError(errors)
        self._clean_transition()

    def _clean_disks(self, errors):
        if not isinstance(self.disks, list):
            errors["disks"] = "Disks must be a list."
            return
        for disk in self.disks:
            if not isinstance(disk, dict) or not disk.get("name"):
                errors["disks"] = 'Each disk needs a name, e.g. {"name": "sda", "size_gb": 480}.'
                return
            size = disk.get("size_gb", 0)
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                errors["disks"] = f"Disk {disk['name']}: size_gb must be a whole number of GB."
                return

    def _clean_rack(self, errors):
        if self.rack_id is None:
            if self.position is not None:
                errors["position"] = "A rack position needs a rack."
            return
        rack = self.rack
        if self.site_id and rack.site_id != self.site_id:
            errors["rack"] = f"Rack {rack.name} is at site {rack.site.name}, not this host's site."
            return
        if self.position is None:
            return
        top = self.position + self.u_height - 1
        if top > rack.u_height:
            errors["position"] = f"Units {self.position}-{top} do not fit in a {rack.u_height}U rack."
            return
        clash = (
            Host.objects.filter(rack_id=self.rack_id, position__isnull=False, position__lte=top)
            .exclude(pk=self.pk)
            .only("hostname", "position", "u_height")
        )
        for other in clash:
            if other.position + other.u_height - 1 >= self.position:
                errors["position"] = (
                    f"Units {self.position}-{top} overlap {other.hostname} "
                    f"(units {other.position}-{other.position + other.u_height - 1})."
                )
                return

    def _clean_naming(self, errors):
        role = self.role if self.role_id else None
        if role and role.strict_naming and role.naming_scheme_id:
            if self.hostname not in role.naming_scheme.names:
                errors["hostname"] = (
                    f"Role {role.name} names hosts strictly from the pool '{role.naming_scheme.name}'; "
                    f"{self.hostname!r} is not in it."
                )

    def _clean_transition(self):
        if self.pk is None:
            return
        old = Host.objects.filter(pk=self.pk).values_list("status", flat=True).first()
        check_transition(old, self.status)


class Interface(models.Model):
    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="interfaces")
    name = models.CharField(max_length=32)
    mac_address = models.CharField(max_length=17, blank=True, validators=[MAC_VALIDATOR])
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["host", "name"]
        constraints = [models.UniqueConstraint(fields=["host", "name"], name="interface_name_unique_per_host")]

    def __str__(self):
        return f"{self.host.hostname}:{self.name}"

    def save(self, *args, **kwargs):
        self.mac_address = (self.mac_address or "").lower()
        super().save(*args, **kwargs)


class JournalIsAppendOnly(Exception):
    """A journal entry was to be changed or deleted: the journal is only ever added to."""


class JournalEntryQuerySet(models.QuerySet):
    # Bulk writes would skip the model's save() and delete(): refused the same way.

    def update(self, **kwargs):
        raise JournalIsAppendOnly("Journal entries are never changed: add a new entry instead.")

    def delete(self):
        raise JournalIsAppendOnly("Journal entries are never deleted.")


class JournalEntry(models.Model):
    """What happened to a host, in people's words ("Marvin is dead: replaced the PSU"),
    and the evidence of every detection, fence and recovery. Append-only: an entry is
    created and read, never changed, moved to another host or deleted (it goes only with
    its host)."""

    class Kind(models.TextChoices):
        NOTE = "note", "Note"
        INCIDENT = "incident", "Incident"
        REPAIR = "repair", "Repair"
        MAINTENANCE = "maintenance", "Maintenance"
        STATUS = "status", "Status change"
        SYSTEM = "system", "Automatic"

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="journal")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.NOTE)
    text = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # When it happened: now, unless the code writing it knows better (the demo's history).
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    objects = JournalEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "journal entries"

    def __str__(self):
        return f"{self.host.hostname}: {self.text[:40]}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise JournalIsAppendOnly("Journal entries are never changed: add a new entry instead.")
        # Always an INSERT: a new object given an existing id must not overwrite that entry.
        kwargs.update(force_insert=True, force_update=False)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise JournalIsAppendOnly("Journal entries are never deleted.")


class StatusChange(models.Model):
    """A host's move through its lifecycle (written by inventory.services.change_status):
    where a host goes back to after maintenance or a repair (a spare stays a spare)."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="status_changes")
    old_status = models.CharField(max_length=16, choices=HostStatus.choices)
    new_status = models.CharField(max_length=16, choices=HostStatus.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.host.hostname}: {self.old_status} → {self.new_status}"


# --- replacing a failed host by a spare ---------------------------------------------------


class Replacement(models.Model):
    """A failed (non-virtual) host's role moved to a spare of a compatible size at the same
    site: the plan (the spare chosen, the candidates rejected and why, the new name), then
    steps a person confirms one by one, run as jobs. See inventory.services.recovery."""

    class State(models.TextChoices):
        PROPOSED = "proposed", "Proposed (waiting for an operator)"
        RUNNING = "running", "In progress"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    OPEN_STATES = (State.PROPOSED, State.RUNNING)

    failed_host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="replacements")
    spare = models.ForeignKey(Host, null=True, blank=True, on_delete=models.SET_NULL, related_name="replacing",
                              help_text="The spare that takes over (none while no spare fits)")
    new_hostname = models.CharField(max_length=63, blank=True, validators=[validate_dns_label],
                                    help_text="The name the spare takes when it takes over")
    naming_note = models.CharField(max_length=300, blank=True, help_text="Why that name")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PROPOSED, db_index=True)
    automatic = models.BooleanField(default=False, help_text="Proposed by failure detection, not by a person")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    evidence = models.JSONField(default=dict, blank=True, help_text="Why the host is considered failed")
    candidates = models.JSONField(default=list, blank=True,
                                  help_text="Every spare considered: fits or not, and why not")
    runbook = models.TextField(blank=True, help_text="Restore-from-backup steps written to the journal")
    role_name = models.CharField(max_length=100, blank=True, help_text="The failed host's role when proposed")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["failed_host"], condition=models.Q(state__in=["proposed", "running"]),
                                    name="one_open_replacement_per_host"),
        ]

    def __str__(self):
        return f"Replacement of {self.failed_host.hostname}"

    def get_absolute_url(self):
        return reverse("inventory:replacement_detail", args=[self.pk])

    @property
    def is_open(self):
        return self.state in self.OPEN_STATES


class ReplacementStep(models.Model):
    """One step of a replacement. A destructive step runs only after a person confirmed
    it (their name is kept here and in the journal); each run is a Job."""

    class Kind(models.TextChoices):
        MARK_FAILED = "mark_failed", "Mark the failed host failed"
        TAKE_OVER = "take_over", "Give the spare the failed host's role"
        RUNBOOK = "runbook", "Write the restore runbook in the journal"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    replacement = models.ForeignKey(Replacement, on_delete=models.CASCADE, related_name="steps")
    number = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField(max_length=200)
    destructive = models.BooleanField(default=True, help_text="Changes the inventory: a person must confirm it")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    outcome = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["replacement", "number"]
        constraints = [models.UniqueConstraint(fields=["replacement", "number"], name="replacement_step_number_unique")]

    def __str__(self):
        return f"{self.replacement}: step {self.number} {self.title}"
