"""Console forms of the inventory. Validation lives in the models (Host.clean: rack
overlap, strict naming, lifecycle); these forms only translate between what a person
types and what the models hold."""

from django import forms
from django.utils.text import slugify

from .formats import DISK_EXAMPLE, format_disks, parse_disks
from .models import (
    Host,
    HostStatus,
    Interface,
    JournalEntry,
    NamingScheme,
    Rack,
    Role,
    Site,
    Tag,
    allowed_transitions,
)


def _monospace(widget):
    widget.extra_classes = "font-monospace"
    return widget


class HostForm(forms.ModelForm):
    disks = forms.CharField(
        required=False,
        widget=_monospace(forms.TextInput(attrs={"placeholder": DISK_EXAMPLE})),
        help_text="name:size_gb[:kind], separated by commas. A T suffix means TB (4T = 4000 GB).",
    )
    # Write-only and not a Meta field: never rendered back, and blank keeps the stored one.
    bmc_password = forms.CharField(
        required=False,
        label="BMC password",
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    clear_bmc_password = forms.BooleanField(required=False, label="Forget the stored BMC password")

    class Meta:
        model = Host
        fields = [
            "hostname", "role", "status", "owner", "tags",
            "site", "rack", "position", "u_height",
            "vendor", "model", "serial", "asset_tag", "cpu_sockets", "cpu_cores", "memory_mib", "disks",
            "mgmt_address", "bmc_address", "bmc_username",
            "notes",
        ]  # fmt: skip
        labels = {"memory_mib": "Memory (MiB)", "cpu_cores": "CPU cores", "cpu_sockets": "CPU sockets",
                  "u_height": "Height (U)", "position": "Position (lowest U)", "mgmt_address": "Management address",
                  "bmc_address": "BMC address", "bmc_username": "BMC user"}  # fmt: skip
        widgets = {
            "tags": forms.CheckboxSelectMultiple,
            "notes": forms.Textarea(attrs={"rows": 3}),
            "mgmt_address": _monospace(forms.TextInput()),
            "hostname": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Rack's name shows its site: fetch both at once.
        self.fields["rack"].queryset = Rack.objects.select_related("site")
        self.fields["role"].queryset = Role.objects.select_related("naming_scheme")
        self.fields["memory_mib"].help_text = "In MiB: 65536 = 64 GiB."
        if not self.is_bound:
            self.initial["disks"] = format_disks(self.instance.disks)
        if self.instance.pk:
            current = HostStatus(self.instance.status)
            allowed = ", ".join(HostStatus(s).label for s in allowed_transitions(current)) or "none (final state)"
            self.fields["status"].help_text = f"From {current.label} a host may go to: {allowed}."
        has_password = bool(self.instance.pk and self.instance.bmc_password)
        self.fields["bmc_password"].help_text = (
            "A password is stored. Leave blank to keep it." if has_password else "Stored encrypted, never shown again."
        )
        if not has_password:
            del self.fields["clear_bmc_password"]

    def clean_disks(self):
        return parse_disks(self.cleaned_data.get("disks"))

    def save(self, commit=True):
        password = self.cleaned_data.get("bmc_password")
        if password:
            self.instance.bmc_password = password
        elif self.cleaned_data.get("clear_bmc_password"):
            self.instance.bmc_password = ""
        return super().save(commit)


class InterfaceForm(forms.ModelForm):
    class Meta:
        model = Interface
        fields = ["name", "mac_address", "ip_address"]
        labels = {"mac_address": "MAC address", "ip_address": "IP address"}
        widgets = {
            "name": forms.TextInput(attrs={"placeholder": "eth0"}),
            "mac_address": _monospace(forms.TextInput(attrs={"placeholder": "52:54:00:12:34:56"})),
            "ip_address": _monospace(forms.TextInput(attrs={"placeholder": "10.0.0.5"})),
        }

    def clean_mac_address(self):
        # People paste MACs in upper case; the model stores (and validates) lower case.
        return (self.cleaned_data.get("mac_address") or "").strip().lower()


InterfaceFormSet = forms.inlineformset_factory(
    Host, Interface, form=InterfaceForm, extra=1, can_delete=True, max_num=64, validate_max=True
)


class JournalEntryForm(forms.ModelForm):
    # "Status change" and "Automatic" entries are written by the system, not typed.
    kind = forms.ChoiceField(
        choices=[
            (k.value, k.label)
            for k in (JournalEntry.Kind.NOTE, JournalEntry.Kind.INCIDENT, JournalEntry.Kind.REPAIR,
                      JournalEntry.Kind.MAINTENANCE)
        ]  # fmt: skip
    )

    class Meta:
        model = JournalEntry
        fields = ["kind", "text"]
        labels = {"text": "Entry"}
        widgets = {"text": forms.Textarea(attrs={"rows": 2, "placeholder": "What happened? e.g. Replaced PSU 2"})}


class StatusChangeForm(forms.Form):
    status = forms.ChoiceField(choices=HostStatus.choices)
    reason = forms.CharField(required=False, max_length=200)


class SlugFromNameMixin:
    """Leave the slug blank and it is made from the name."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["slug"].help_text = "Used in URLs and filters. Left blank, it is made from the name."

    def clean_slug(self):
        return self.cleaned_data.get("slug") or slugify(self.data.get(self.add_prefix("name"), ""))[:64]


class SiteForm(SlugFromNameMixin, forms.ModelForm):
    class Meta:
        model = Site
        fields = ["name", "slug", "description", "address"]


class RackForm(forms.ModelForm):
    class Meta:
        model = Rack
        fields = ["site", "name", "u_height", "description"]
        labels = {"u_height": "Height (U)"}


class RoleForm(SlugFromNameMixin, forms.ModelForm):
    class Meta:
        model = Role
        fields = ["name", "slug", "description", "naming_scheme", "strict_naming"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("strict_naming") and not cleaned.get("naming_scheme"):
            self.add_error("strict_naming", "Strict naming needs a naming scheme to take names from.")
        return cleaned


class NamingSchemeForm(forms.ModelForm):
    names = forms.CharField(
        required=False,
        label="Name pool",
        widget=_monospace(forms.Textarea(attrs={"rows": 12, "placeholder": "mercury\nvenus\nearth"})),
        help_text="One host name per line, in the order they are handed out.",
    )

    class Meta:
        model = NamingScheme
        fields = ["name", "description", "names"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["names"] = "\n".join(self.instance.names or [])

    def clean_names(self):
        return [line.strip() for line in self.cleaned_data.get("names", "").splitlines() if line.strip()]


class TagForm(SlugFromNameMixin, forms.ModelForm):
    class Meta:
        model = Tag
        fields = ["name", "slug", "color"]
        labels = {"color": "Colour"}
        widgets = {"color": forms.TextInput(attrs={"type": "color"})}
