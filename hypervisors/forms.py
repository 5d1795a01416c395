"""Console forms of the hypervisor pages. They check what a person asked for against
what the VM is now (state, capacity, candidates) so a refused request is a form error,
not a failed job; the jobs re-check everything when they run."""

from dataclasses import dataclass, replace
from pathlib import Path

from django import forms

from inventory.models import Host, HostStatus, Role, Tag
from inventory.services import free_names
from inventory.validators import validate_dns_label

from .models import Hypervisor, VirtualMachine
from .placement import PACK, SPREAD, Capacity, plan_placement
from .services.actions import POWER_ACTIONS
from .services.capacity import candidates_for, demand_of, hypervisor_usage
from .services.locks import VMBusy
from .services.migration import MigrationRefused, check_local_disk_copy
from .services.records import Refused, check_forget
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


# --- power, resize, delete --------------------------------------------------------------

POWER_LABELS = {"start": "Start", "shutdown": "Shut down", "reboot": "Reboot", "force-off": "Force off"}


def allowed_power_actions(vm):
    """The power actions that make sense for the VM as last seen."""
    if vm.is_stale or vm.hypervisor_id is None:
        return []
    if vm.state == VirtualMachine.State.RUNNING:
        return ["shutdown", "reboot", "force-off"]
    if vm.state in (VirtualMachine.State.PAUSED, VirtualMachine.State.BLOCKED, VirtualMachine.State.SHUTDOWN):
        return ["force-off"]
    return ["start"]


class PowerForm(forms.Form):
    action = forms.ChoiceField(choices=[(a, POWER_LABELS[a]) for a in POWER_ACTIONS])
    timeout = forms.IntegerField(required=False, min_value=5, max_value=3600, initial=120,
                                 help_text="Seconds to wait for a graceful shutdown before forcing it off")

    def __init__(self, *args, vm, **kwargs):
        super().__init__(*args, **kwargs)
        self.vm = vm

    def clean(self):
        cleaned = super().clean()
        action = cleaned.get("action")
        if action and action not in allowed_power_actions(self.vm):
            raise forms.ValidationError(f"{POWER_LABELS[action]} does not apply: {self.vm.name} is "
                                        f"{self.vm.get_state_display().lower()}.")
        if cleaned.get("timeout") is None:
            cleaned["timeout"] = self.fields["timeout"].initial
        return cleaned


class ResizeForm(forms.Form):
    vcpus = forms.IntegerField(label="vCPUs", min_value=1, max_value=MAX_VCPUS)
    memory_mib = forms.IntegerField(label="Memory (MiB)", min_value=16, max_value=MAX_MEMORY_MIB,
                                    help_text="In MiB: 4096 = 4 GiB.")

    def __init__(self, *args, vm, **kwargs):
        kwargs.setdefault("initial", {"vcpus": vm.vcpus, "memory_mib": vm.memory_mib})
        super().__init__(*args, **kwargs)
        self.vm = vm

    def clean(self):
        cleaned = super().clean()
        if self.vm.state != VirtualMachine.State.SHUTOFF:
            raise forms.ValidationError(f"{self.vm.name} is {self.vm.get_state_display().lower()}; "
                                        "shut it down to change its size.")
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


class DeleteVMForm(forms.Form):
    confirm_name = forms.CharField(label="Type the VM's name to confirm",
                                   widget=_monospace(forms.TextInput(attrs={"autocomplete": "off",
                                                                            "spellcheck": "false"})))
    delete_disks = forms.BooleanField(required=False, label="Also delete its disk images")

    def __init__(self, *args, vm, **kwargs):
        super().__init__(*args, **kwargs)
        self.vm = vm
        self.fields["confirm_name"].widget.attrs["placeholder"] = vm.name

    def clean_confirm_name(self):
        name = self.cleaned_data["confirm_name"].strip()
        if name != self.vm.name:
            raise forms.ValidationError(f"That is not {self.vm.name}. Type the name exactly to delete it.")
        return name

    def clean(self):
        if self.vm.hypervisor_id is None or self.vm.is_stale:
            raise forms.ValidationError(f"libvirt does not report {self.vm.name} now, so there is nothing to undefine. "
                                        "Sync its hypervisor first.")
        return super().clean()


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


class MigrateForm(forms.Form):
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
        super().__init__(*args, **kwargs)
        self.vm = vm
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
        fitting = {str(t.hypervisor.pk): t for t in self.targets if t.fits}
        if cleaned["target"] == self.PLANNER:
            cleaned["target_hypervisor"] = self._planned_target(fitting)
        else:
            cleaned["target_hypervisor"] = fitting[cleaned["target"]].hypervisor
        if self.kind == "cold":
            try:
                check_local_disk_copy(self.vm, cleaned["target_hypervisor"])
            except MigrationRefused as exc:
                raise forms.ValidationError(str(exc)) from exc
        return cleaned

    def _planned_target(self, fitting):
        if not fitting:
            reasons = "; ".join(f"{t.hypervisor.name}: {t.reason}" for t in self.targets)
            raise forms.ValidationError(f"No hypervisor can take {self.vm.name}"
                                        + (f" ({reasons})." if reasons else ": there is no candidate at its site."))
        plan = plan_placement([demand_of(self.vm)], [t.capacity for t in fitting.values()], SPREAD)
        return Hypervisor.objects.select_related("host").get(pk=plan.assignments[self.vm.pk])

    def job_params(self):
        params = {"vm_id": self.vm.pk, "target_id": self.cleaned_data["target_hypervisor"].pk}
        if self.kind == "live":
            params.update(auto_converge=self.cleaned_data["auto_converge"],
                          bandwidth_mib_s=self.cleaned_data["bandwidth_mib_s"],
                          time_limit_s=self.cleaned_data["time_limit_s"])
        return params


# --- maintenance -----------------------------------------------------------------------


class EvacuationForm(forms.Form):
    policy = forms.ChoiceField(
        choices=[(SPREAD, "Spread: even out the load"), (PACK, "Pack: fill spares first, keep whole hosts free")],
        initial=SPREAD, label="Placement policy",
    )
    parallel = forms.IntegerField(min_value=1, max_value=8, initial=2, label="Migrations at a time")


# --- create -----------------------------------------------------------------------------


def taken_vm_names(names):
    return set(VirtualMachine.objects.filter(name__in=names).exclude(state=VirtualMachine.State.GONE)
               .values_list("name", flat=True))


def suggest_vm_name(role):
    """The role's next free name: unused by any host and by any VM libvirt still has."""
    if role is None:
        return None
    names = free_names(role)
    taken = taken_vm_names(names)
    return next((name for name in names if name not in taken), None)


def default_storage_dir():
    """Where the lab keeps guest disks (shared by every lab hypervisor)."""
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

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if name:
            validate_dns_label(name)
            if taken_vm_names([name]):
                raise forms.ValidationError(f"A VM named {name} already exists.")
        return name

    def clean_storage_dir(self):
        path = self.cleaned_data["storage_dir"].strip()
        if path and not Path(path).is_absolute():
            raise forms.ValidationError("Give an absolute path, e.g. /var/lib/libvirt/images.")
        return path

    def clean(self):
        cleaned = super().clean()
        if not self.errors.get("name") and not cleaned.get("name"):
            suggestion = suggest_vm_name(cleaned.get("role"))
            if suggestion:
                cleaned["name"] = suggestion
            else:
                self.add_error("name", "Give a name, or choose a role whose naming scheme still has a free name.")
        if cleaned.get("disk_gib") and not cleaned.get("storage_dir"):
            self.add_error("storage_dir", "A disk needs a directory to live in.")
        hypervisor = cleaned.get("hypervisor")
        if hypervisor and cleaned.get("vcpus") and cleaned.get("memory_mib"):
            self._check_room(hypervisor, cleaned["vcpus"], cleaned["memory_mib"])
        return cleaned

    def _check_room(self, hypervisor, vcpus, memory_mib):
        free_vcpus, free_memory = self.fields["hypervisor"].free[hypervisor.pk]
        if vcpus > free_vcpus or memory_mib > free_memory:
            self.add_error("hypervisor", f"{hypervisor.name} has {free_vcpus} vCPU and {memory_text(free_memory)} free "
                                         "under its overcommit ratios: not enough for this VM.")

    def job_params(self):
        data = self.cleaned_data
        return {
            "hypervisor_id": data["hypervisor"].pk, "role_id": data["role"].pk if data["role"] else None,
            "name": data["name"], "vcpus": data["vcpus"], "memory_mib": data["memory_mib"],
            "disk_gib": data["disk_gib"], "storage_dir": data["storage_dir"] or None, "start": data["start"],
        }
