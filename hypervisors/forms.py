"""Console forms of the hypervisor pages. Their `clean()` runs the very checks the action
runs (hypervisors.services.preflight), so a refused request is an error on the field it is
about, the same refusal the API gives; the jobs re-check everything when they run."""

from dataclasses import dataclass, replace

from django import forms

from inventory.models import Host, HostStatus, Role, Tag

from .models import Hypervisor, VirtualMachine
from .placement import PACK, SPREAD, Capacity, plan_placement
from .services import preflight
from .services.actions import POWER_ACTIONS
from .services.capacity import candidates_for, demand_of, hypervisor_usage
from .services.locks import VMBusy
from .services.operations import POWER_TITLES as POWER_LABELS
from .services.preflight import Refused
from .services.records import check_forget
from .tables import memory_text

TAKES_VMS = (HostStatus.ACTIVE, HostStatus.SPARE)
MAX_VCPUS, MAX_MEMORY_MIB, MAX_DISK_GIB = 256, 4 * 1024 * 1024, 64 * 1024


def _monospace(widget):
    widget.extra_classes = "font-monospace"
    return widget


# --- our own records of a VM ---------------------------------------------------------


class VMRecordForm(forms.ModelForm):
    """What we know about a VM and libvirt does not. libvirt's facts are never edited here."""

    inventory_host = forms.ModelChoiceField(
        queryset=Host.objects.all(), to_field_name="hostname", required=False, label="Inventory host",
        widget=forms.TextInput(attrs={"placeholder": "hostname, e.g. luna", "autocomplete": "off",
                                      "spellcheck": "false"}),
        error_messages={"invalid_choice": "No host with that hostname in the inventory."},
        help_text="The inventory host (service) this VM is.",
    )

    class Meta:
        model = VirtualMachine
        fields = ["ha_enabled", "anti_affinity_group", "role", "inventory_host", "owner", "tags"]
        labels = {"ha_enabled": "High availability",
                  "anti_affinity_group": "Anti-affinity group"}
        widgets = {"tags": forms.CheckboxSelectMultiple,
                   "anti_affinity_group": _monospace(forms.TextInput(attrs={"placeholder": "e.g. app-cluster"}))}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tags"].queryset = Tag.objects.all()
        if not self.is_bound and self.instance.inventory_host_id:
            self.initial["inventory_host"] = self.instance.inventory_host.hostname

    def clean_inventory_host(self):
        host = self.cleaned_data.get("inventory_host")
        if host is not None:
            other = VirtualMachine.objects.filter(inventory_host=host).exclude(pk=self.instance.pk).first()
            if other is not None:
                raise forms.ValidationError(f"{host.hostname} is already linked to the VM {other.name}.")
        return host


def add_refusal(form, exc, fields=None):
    """Show a service's refusal on the form field it is about (`fields` maps the service's
    field names to the form's), or above the form."""
    field = (fields or {}).get(getattr(exc, "field", None), getattr(exc, "field", None))
    form.add_error(field if field in form.fields else None, str(exc).rstrip(".") + ".")


class PreflightForm(forms.Form):
    """A form about one VM whose clean() runs the action's own checks."""

    refusal_fields = {}

    def __init__(self, *args, vm, **kwargs):
        super().__init__(*args, **kwargs)
        self.vm = vm

    def preflight(self, check, *args):
        try:
            return check(*args)
        except (Refused, VMBusy) as exc:
            add_refusal(self, exc, self.refusal_fields)
            return None


# --- power, resize, delete --------------------------------------------------------------


class PowerForm(PreflightForm):
    action = forms.ChoiceField(choices=[(a, POWER_LABELS[a]) for a in POWER_ACTIONS])
    timeout = forms.IntegerField(required=False, min_value=5, max_value=3600, initial=120,
                                 help_text="Seconds to wait for a graceful shutdown before forcing it off")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action"):
            self.preflight(preflight.check_power, self.vm, cleaned["action"])
        if cleaned.get("timeout") is None:
            cleaned["timeout"] = self.fields["timeout"].initial
        return cleaned


class ResizeForm(PreflightForm):
    vcpus = forms.IntegerField(label="vCPUs", min_value=1, max_value=MAX_VCPUS)
    memory_mib = forms.IntegerField(label="Memory (MiB)", min_value=16, max_value=MAX_MEMORY_MIB,
                                    help_text="In MiB: 4096 = 4 GiB.")

    def __init__(self, *args, vm, **kwargs):
        kwargs.setdefault("initial", {"vcpus": vm.vcpus, "memory_mib": vm.memory_mib})
        super().__init__(*args, vm=vm, **kwargs)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("vcpus") and cleaned.get("memory_mib"):
            self.preflight(preflight.check_resize, self.vm, cleaned["vcpus"], cleaned["memory_mib"])
        return cleaned


class ForgetVMForm(forms.Form):
    """Confirm forgetting a stale VM record; the service says why when it may not be forgotten."""

    confirm_name = forms.CharField(label="Type the VM's name to confirm",
                                   widget=_monospace(forms.TextInput(attrs={"autocomplete": "off",
                                                                            "spellcheck": "false"})))

    def __init__(self, *args, vm, **kwargs):
        super().__init__(*args, **kwargs)
        self.vm = vm
        self.fields["confirm_name"].widget.attrs["placeholder"] = vm.name

    def clean(self):
        confirm = (self.cleaned_data.get("confirm_name") or "").strip()
        try:
            check_forget(self.vm, confirm)
        except Refused as exc:
            self.add_error("confirm_name" if exc.field == "confirm" else None, str(exc))
        except VMBusy as exc:
            self.add_error(None, str(exc))
        return self.cleaned_data


class DeleteVMForm(PreflightForm):
    refusal_fields = {"confirm": "confirm_name"}

    confirm_name = forms.CharField(label="Type the VM's name to confirm",
                                   widget=_monospace(forms.TextInput(attrs={"autocomplete": "off",
                                                                            "spellcheck": "false"})))
    delete_disks = forms.BooleanField(required=False, label="Also delete its disk images")

    def __init__(self, *args, vm, **kwargs):
        super().__init__(*args, vm=vm, **kwargs)
        self.fields["confirm_name"].widget.attrs["placeholder"] = vm.name

    def clean(self):
        cleaned = super().clean()
        cleaned["confirm_name"] = (cleaned.get("confirm_name") or "").strip()
        self.preflight(preflight.check_delete, self.vm, cleaned["confirm_name"])
        return cleaned


# --- migration ------------------------------------------------------------------------


@dataclass
class MigrationTarget:
    hypervisor: Hypervisor
    capacity: Capacity
    reason: str = ""  # why it cannot take the VM; "" when it can

    @property
    def fits(self):
        return not self.reason

    @property
    def free_memory(self):
        return memory_text(self.capacity.free_memory_mib)

    @property
    def total_memory(self):
        return memory_text(self.capacity.memory_mib)

    @property
    def label(self):
        return f"{self.hypervisor.name} — {self.capacity.free_vcpus} vCPU, {self.free_memory} free"


def migration_targets(vm):
    """Every candidate hypervisor for the VM (same site, enabled, active or spare,
    reachable), each with the planner's reason when the VM does not fit there."""
    capacities = candidates_for(vm.hypervisor)
    hypervisors = Hypervisor.objects.select_related("host").in_bulk([c.key for c in capacities])
    demand = replace(demand_of(vm), source=None)  # the source is never a candidate
    targets = []
    for capacity in capacities:
        hypervisor = hypervisors[capacity.key]
        # Ask the planner about this host alone, keyed by name so its reason reads well.
        plan = plan_placement([demand], [replace(capacity, key=hypervisor.name, groups=set(capacity.groups))])
        targets.append(MigrationTarget(hypervisor, capacity, plan.unplaced.get(vm.pk, "")))
    return sorted(targets, key=lambda t: (not t.fits, t.hypervisor.name))


def migration_kind(vm):
    """'live' for a running VM, 'cold' for a shut-off one, None when it cannot move."""
    if vm.hypervisor_id is None or vm.is_stale:
        return None
    return {VirtualMachine.State.RUNNING: "live", VirtualMachine.State.SHUTOFF: "cold"}.get(vm.state)


class MigrateForm(PreflightForm):
    PLANNER = ""

    target = forms.ChoiceField(required=False, label="Target hypervisor")
    auto_converge = forms.BooleanField(required=False, label="Auto-converge",
                                       help_text="Throttle the guest's CPU if its memory changes faster than it "
                                                 "can be sent")
    bandwidth_mib_s = forms.IntegerField(label="Bandwidth limit (MiB/s)", min_value=0, max_value=100_000,
                                         initial=0, help_text="0 = unlimited")
    time_limit_s = forms.IntegerField(label="Time limit (s)", min_value=30, max_value=86_400, initial=600,
                                      help_text="The migration is aborted after this; the VM stays on its source")

    def __init__(self, *args, vm, **kwargs):
        super().__init__(*args, vm=vm, **kwargs)
        self.kind = migration_kind(vm)
        self.targets = migration_targets(vm) if self.kind else []
        self.fields["target"].choices = [(self.PLANNER, "Let the planner choose")] + [
            (str(t.hypervisor.pk), t.label) for t in self.targets if t.fits
        ]
        if self.kind == "cold":  # these only steer a live migration
            for name in ("auto_converge", "bandwidth_mib_s", "time_limit_s"):
                del self.fields[name]

    def clean(self):
        cleaned = super().clean()
        if self.kind is None:
            raise forms.ValidationError(
                f"{self.vm.name} is {self.vm.get_state_display().lower()}: only a running VM (live) or a "
                "shut-off VM (cold) can be migrated."
            )
        if "target" not in cleaned:
            return cleaned
        fitting = {str(t.hypervisor.pk): t.hypervisor for t in self.targets if t.fits}
        if cleaned["target"] == self.PLANNER and not fitting:
            reasons = "; ".join(f"{t.hypervisor.name}: {t.reason}" for t in self.targets)
            raise forms.ValidationError(f"No hypervisor can take {self.vm.name}"
                                        + (f" ({reasons})." if reasons else ": there is no candidate at its site."))
        planned = self.preflight(preflight.plan_migration, self.vm, fitting.get(cleaned["target"]))
        if planned:
            cleaned["target_hypervisor"] = planned[0]
        return cleaned

    def live_options(self):
        return {key: self.cleaned_data[key] for key in ("auto_converge", "bandwidth_mib_s", "time_limit_s")
                if key in self.cleaned_data}


# --- maintenance -----------------------------------------------------------------------


class EvacuationForm(forms.Form):
    policy = forms.ChoiceField(
        choices=[(SPREAD, "Spread: even out the load"), (PACK, "Pack: fill spares first, keep whole hosts free")],
        initial=SPREAD, label="Placement policy",
    )
    parallel = forms.IntegerField(min_value=1, max_value=8, initial=2, label="Migrations at a time")


# --- create -----------------------------------------------------------------------------


def default_storage_dir():
    """Where the lab keeps guest disks (shared by every lab hypervisor, its declared storage)."""
    from .labconfig import configured_lab

    return str(configured_lab().shared_storage)


class HypervisorChoiceField(forms.ModelChoiceField):
    """Hypervisors labelled with their free room, e.g. "hv1 — 6 vCPU, 9.9 GiB free"."""

    free = {}

    def label_from_instance(self, obj):
        free = self.free.get(obj.pk)
        return f"{obj.name} — {free[0]} vCPU, {memory_text(free[1])} free" if free else obj.name


class VMNameForm(forms.Form):
    """The name field alone: what the "suggest a name" request renders."""

    name = forms.CharField(required=False, max_length=63,
                           widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))


class CreateVMForm(VMNameForm):
    hypervisor = HypervisorChoiceField(queryset=Hypervisor.objects.none(), empty_label="Choose a hypervisor")
    role = forms.ModelChoiceField(queryset=Role.objects.select_related("naming_scheme"), required=False,
                                  empty_label="No role", help_text="Its naming scheme names the VM")
    vcpus = forms.IntegerField(label="vCPUs", min_value=1, max_value=MAX_VCPUS, initial=1)
    memory_mib = forms.IntegerField(label="Memory (MiB)", min_value=16, max_value=MAX_MEMORY_MIB, initial=256)
    disk_gib = forms.IntegerField(label="Disk (GiB)", min_value=0, max_value=MAX_DISK_GIB, initial=0,
                                  help_text="0: none")
    storage_dir = forms.CharField(label="Disk directory", required=False, max_length=500,
                                  widget=_monospace(forms.TextInput()),
                                  help_text="A directory on the hypervisor; shared storage allows live migration")
    start = forms.BooleanField(required=False, initial=True, label="Start it once defined")

    field_order = ["hypervisor", "role", "name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        hypervisors = (
            Hypervisor.objects.select_related("host").filter(enabled=True, host__status__in=TAKES_VMS)
            .exclude(connection=Hypervisor.Connection.UNREACHABLE)
        )
        self.fields["hypervisor"].queryset = hypervisors
        self.fields["hypervisor"].free = {
            u.hypervisor.pk: (u.hypervisor.vcpu_capacity - u.vcpus_used,
                              u.hypervisor.memory_capacity_mib - u.memory_used_mib)
            for u in hypervisor_usage(hypervisors)
        }
        if not self.is_bound:
            self.initial.setdefault("storage_dir", default_storage_dir())

    def clean(self):
        cleaned = super().clean()
        cleaned["name"] = (cleaned.get("name") or "").strip()
        cleaned["storage_dir"] = (cleaned.get("storage_dir") or "").strip()
        hypervisor = cleaned.get("hypervisor")
        if hypervisor and cleaned.get("vcpus") and cleaned.get("memory_mib") and cleaned.get("disk_gib") is not None:
            try:
                cleaned["name"] = preflight.prepare_create(
                    hypervisor, cleaned["vcpus"], cleaned["memory_mib"], cleaned["name"] or None, cleaned.get("role"),
                    cleaned["disk_gib"], cleaned["storage_dir"] or None)
            except Refused as exc:
                add_refusal(self, exc)
        return cleaned
