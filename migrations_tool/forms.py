"""Console forms of the migration wizard."""

from django import forms

from cloud.models import CloudAccount
from hypervisors.models import Hypervisor
from inventory.models import Role, Site, Tag

from .models import Dependency, MigrationPlan, PlannedWorkload, Strategy, Wave
from .services.checks import workload_disks
from .source_dsn import clean_source_dsn, may_set_source_dsn

KINDS = [("both", "Hosts and VMs"), ("hosts", "Hosts"), ("vms", "VMs")]


class PickForm(forms.Form):
    """Step 1: which workloads (filters), the plan's name and the account to size for."""

    site = forms.ModelChoiceField(Site.objects.all(), required=False, to_field_name="slug", empty_label="Any site")
    role = forms.ModelChoiceField(Role.objects.all(), required=False, to_field_name="slug", empty_label="Any role")
    tag = forms.ModelChoiceField(Tag.objects.all(), required=False, to_field_name="slug", empty_label="Any tag")
    kind = forms.ChoiceField(choices=KINDS, required=False, initial="both")


class NewPlanForm(forms.Form):
    name = forms.CharField(max_length=100)
    account = forms.ModelChoiceField(CloudAccount.objects.all(), required=False, empty_label="No account (us-east-1 prices)",
                                     help_text="Sized against its region's instance types and prices")
    host = forms.TypedMultipleChoiceField(coerce=int, required=False)
    vm = forms.TypedMultipleChoiceField(coerce=int, required=False)

    def __init__(self, *args, host_choices=(), vm_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["host"].choices = host_choices
        self.fields["vm"].choices = vm_choices

    def clean_name(self):
        name = self.cleaned_data["name"]
        if MigrationPlan.objects.filter(name=name).exists():
            raise forms.ValidationError(f"There is already a plan named {name}.")
        return name

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("host") and not cleaned.get("vm") and not self.errors:
            raise forms.ValidationError("Tick at least one workload.")
        return cleaned


class WorkloadForm(forms.ModelForm):
    """Step 2: change one workload's strategy and targets."""

    class Meta:
        model = PlannedWorkload
        fields = ["strategy", "instance_type", "rds_class", "engine", "multi_az", "target_hypervisor"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["target_hypervisor"]
        field.queryset = Hypervisor.objects.select_related("host").filter(enabled=True)
        field.empty_label = "Placement decides"
        field.required = False
        self.fields["engine"].widget = forms.Select(choices=[("", "—"), ("postgres", "PostgreSQL"), ("mysql", "MySQL")])


class WaveMoveForm(forms.Form):
    workload = forms.ModelChoiceField(PlannedWorkload.objects.none())
    wave = forms.ModelChoiceField(Wave.objects.none(), required=False, empty_label="No wave")

    def __init__(self, *args, plan, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["workload"].queryset = plan.workloads.all()
        self.fields["wave"].queryset = plan.waves.all()


class DependencyForm(forms.Form):
    """A dependency between two workloads of the plan (source needs target)."""

    source = forms.ModelChoiceField(PlannedWorkload.objects.none(), label="This workload")
    target = forms.ModelChoiceField(PlannedWorkload.objects.none(), label="needs")
    description = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, plan, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].queryset = plan.workloads.all()
        self.fields["target"].queryset = plan.workloads.all()

    def dependency(self):
        source, target = self.cleaned_data["source"], self.cleaned_data["target"]
        return Dependency(source_host_id=source.host_id, source_vm_id=source.vm_id, target_host_id=target.host_id,
                          target_vm_id=target.vm_id, description=self.cleaned_data.get("description", ""))


class TargetsForm(forms.ModelForm):
    """Step 4: account and network targets (empty: the account's defaults)."""

    class Meta:
        model = MigrationPlan
        fields = ["account", "subnet", "security_group", "key_pair", "dns_zone", "sync_every_minutes"]


def disk_label(choice):
    """"vda: 4.0 GiB, 1.1 GiB allocated (qcow2)": what a sysadmin picks a disk by."""
    allocated = f", {choice.allocated / 2**30:.1f} GiB allocated" if choice.allocated is not None else ""
    return f"{choice.name}: {choice.size / 2**30:.1f} GiB{allocated}" + (
        f" ({choice.description})" if choice.description else "")


class WorkloadTargetForm(forms.ModelForm):
    """Step 4, per cloud workload: its DNS name, the disk to replicate (one of its real
    disks, listed live) and source database."""

    source_dsn = forms.CharField(label="Source database DSN", required=False, max_length=1000,
                                 widget=forms.PasswordInput(render_value=False),
                                 help_text="Stored encrypted; leave empty to keep the stored one")

    class Meta:
        model = PlannedWorkload
        fields = ["dns_name", "disk"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.disk_problem = None
        if self.instance.strategy == Strategy.REHOST_EC2:
            choices, self.disk_problem = workload_disks(self.instance)
            first = "the VM's first disk" if self.instance.vm_id else "choose one of its disks"
            listed = [(c.name, disk_label(c)) for c in choices]
            self.live_disks = {c.name for c in choices}
            if self.instance.disk and self.instance.disk not in dict(listed):
                listed.append((self.instance.disk, f"{self.instance.disk} (not found now)"))
            self.fields["disk"] = forms.ChoiceField(choices=[("", f"— {first} —"), *listed], required=False,
                                                    help_text=self.disk_problem or "")
        else:
            del self.fields["disk"]
        if not may_set_source_dsn(user):
            # Shown, but what a browser sends for it is ignored (Django's disabled field).
            self.fields["source_dsn"].disabled = True
            self.fields["source_dsn"].help_text = "Only an admin may set the source database DSN"

    def clean_disk(self):
        # The choices came from the system a moment ago: anything else (a stale disk kept for
        # display, or what a browser made up) is refused here, never passed on as a path.
        value = self.cleaned_data.get("disk") or ""
        if value and value not in self.live_disks:
            raise forms.ValidationError(f"{value} is not one of {self.instance.vm or self.instance.host}'s disks now"
                                        + (f": {self.disk_problem}" if self.disk_problem else "."))
        return value

    def clean_source_dsn(self):
        value = self.cleaned_data.get("source_dsn")
        return clean_source_dsn(value, self.user) if value else value

    def save(self, commit=True):
        if self.cleaned_data.get("source_dsn"):
            self.instance.source_dsn = self.cleaned_data["source_dsn"]
        return super().save(commit)
