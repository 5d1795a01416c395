"""Console forms of the cloud app."""

from decimal import Decimal

from django import forms

from inventory.models import HostStatus, Role, Site, Tag

from .models import CloudAccount, OnPremCostModel, SizingPolicy

HOSTS, VMS, BOTH = "hosts", "vms", "both"


class CloudAccountForm(forms.ModelForm):
    """The secret is write-only: never rendered back; left empty, the stored one stays."""

    secret_access_key = forms.CharField(
        label="Secret access key", required=False, strip=False, max_length=2000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted and never shown again. Leave empty to keep the stored one.",
    )

    class Meta:
        model = CloudAccount
        fields = ["name", "region", "auth_mode", "access_key_id", "endpoint_url", "default_vpc", "default_subnet",
                  "default_security_group", "default_key_pair"]
        widgets = {"auth_mode": forms.RadioSelect}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.secret_access_key:
            field = self.fields["secret_access_key"]
            field.help_text = "A secret is stored (not shown). " + field.help_text
        self.order_fields(["name", "region", "auth_mode", "access_key_id", "secret_access_key", "endpoint_url"])

    def clean(self):
        cleaned = super().clean()
        # Not a model field of the form (an empty one must not wipe the stored secret): set it
        # by hand, before the model's own validation (keys need a secret), which runs next.
        if cleaned.get("secret_access_key"):
            self.instance.secret_access_key = cleaned["secret_access_key"]
        return cleaned


class OnPremCostModelForm(forms.ModelForm):
    class Meta:
        model = OnPremCostModel
        fields = ["name", "kind", "role", "hardware_amortisation", "power", "rack", "licences", "notes"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].empty_label = "Default (every role without its own model)"


class SizingPolicyForm(forms.ModelForm):
    class Meta:
        model = SizingPolicy
        fields = ["cpu_headroom", "memory_headroom", "min_memory_mib", "allow_previous_generation", "allow_burstable",
                  "allow_bare_metal", "architecture", "retire_max_cpu_percent", "retire_min_days", "database_role",
                  "production_tag", "default_db_engine"]


class SizingForm(forms.Form):
    """Which workloads the right-sizing page sizes, for which account, with which changes
    to the sizing policy (for this page only)."""

    workloads = forms.ChoiceField(choices=[(BOTH, "Hosts and VMs"), (HOSTS, "Hosts"), (VMS, "VMs")], initial=BOTH,
                                  required=False)
    site = forms.ModelChoiceField(Site.objects.all(), to_field_name="slug", required=False, empty_label="Any site")
    role = forms.ModelChoiceField(Role.objects.all(), to_field_name="slug", required=False, empty_label="Any role")
    tag = forms.ModelChoiceField(Tag.objects.all(), to_field_name="slug", required=False, empty_label="Any tag")
    status = forms.ChoiceField(choices=[("", "Any status"), *HostStatus.choices], required=False,
                               label="Host status")
    account = forms.ModelChoiceField(CloudAccount.objects.all(), required=False,
                                     empty_label="No account (us-east-1 price table)")
    cpu_headroom = forms.DecimalField(min_value=Decimal("1"), max_value=Decimal("10"), max_digits=4, decimal_places=2,
                                      required=False, label="CPU headroom ×")
    memory_headroom = forms.DecimalField(min_value=Decimal("1"), max_value=Decimal("10"), max_digits=4,
                                         decimal_places=2, required=False, label="Memory headroom ×")
    allow_burstable = forms.BooleanField(required=False, label="Allow burstable (t3)")
    allow_previous_generation = forms.BooleanField(required=False, label="Allow previous generation")
    allow_bare_metal = forms.BooleanField(required=False, label="Allow bare metal")

    POLICY_FIELDS = ("cpu_headroom", "memory_headroom", "allow_burstable", "allow_previous_generation",
                     "allow_bare_metal")

    def policy_overrides(self):
        """What the form changes in the stored policy (unticked boxes change nothing)."""
        overrides = {}
        for name in self.POLICY_FIELDS:
            value = self.cleaned_data.get(name)
            if value not in (None, False):
                overrides[name] = value
        return overrides
