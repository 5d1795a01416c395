from django import forms

from inventory.models import Host

from . import webhooks
from .models import AlertTarget, CheckSchedule, FenceDevice, PortCheck


class CheckScheduleForm(forms.ModelForm):
    class Meta:
        model = CheckSchedule
        fields = ["check_type", "role", "host", "interval_seconds", "enabled"]
        help_texts = {"role": "Leave role and host empty for the schedule of every host",
                      "host": "A host's own schedule wins over its role's"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["host"].queryset = Host.objects.order_by("hostname")


class PortCheckForm(forms.ModelForm):
    class Meta:
        model = PortCheck
        fields = ["role", "port", "label"]


class AlertTargetForm(forms.ModelForm):
    """A stored webhook URL and the signing secret are never rendered back: on a new
    target the secret is generated into the form (shown this once, to the admin adding
    it); afterwards both fields are for a new value only."""

    new_signing_secret = forms.CharField(
        label="Signing secret", required=False, min_length=16, max_length=200, strip=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "font-monospace"}),
    )

    class Meta:
        model = AlertTarget
        fields = ["name", "kind", "address", "enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        secret = self.fields["new_signing_secret"]
        if self.instance.pk is None:
            secret.initial = webhooks.new_signing_secret()
            secret.help_text = ("Webhooks only: the receiver checks each delivery's signature with it. "
                                "Copy it now, it is never shown again.")
        else:
            secret.help_text = "Webhooks only; never shown again. Leave empty to keep the stored secret."
            if self.instance.kind == AlertTarget.Kind.WEBHOOK:
                address = self.fields["address"]
                self.initial["address"] = ""
                address.required = False
                address.help_text = f"Stored: {self.instance.shown_address} (never shown). Leave empty to keep it."

    def clean_address(self):
        return self.cleaned_data.get("address") or (self.instance.address if self.instance.pk else "")

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and cleaned.get("kind") == AlertTarget.Kind.WEBHOOK \
                and not cleaned.get("new_signing_secret") and "new_signing_secret" not in self.errors:
            # Else one would be generated that nobody ever saw.
            self.add_error("new_signing_secret", "Keep the generated secret or give your own.")
        return cleaned

    def save(self, commit=True):
        if self.cleaned_data.get("new_signing_secret") and self.cleaned_data.get("kind") == AlertTarget.Kind.WEBHOOK:
            self.instance.signing_secret = self.cleaned_data["new_signing_secret"]
        return super().save(commit)


class FenceDeviceForm(forms.ModelForm):
    """The stored password is never rendered: the field is for a new value only."""

    new_password = forms.CharField(label="Password", required=False, strip=False,
                                   widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                                   help_text="IPMI password. Stored encrypted and never shown again; leave empty "
                                             "to keep the stored one")

    class Meta:
        model = FenceDevice
        fields = ["agent", "address", "username", "lab_root", "timeout_seconds", "enabled"]

    def save(self, commit=True):
        if self.cleaned_data.get("new_password"):
            self.instance.password = self.cleaned_data["new_password"]
        return super().save(commit)


class StartRecoveryForm(forms.Form):
    """'Fence and restart' or 'Confirm powered off': both need an explicit confirmation."""

    FENCE, CONFIRMED_OFF = "fence", "confirmed_off"

    mode = forms.ChoiceField(choices=[(FENCE, "Fence with its agent, then restart its HA VMs"),
                                      (CONFIRMED_OFF, "I confirm it is powered off; restart its HA VMs")])
    confirm = forms.BooleanField(label="I understand its HA VMs will be started on other hypervisors")
    note = forms.CharField(max_length=300, required=False, help_text="How you checked it is off (goes in the journal)")


class RecoveryPolicyForm(forms.Form):
    auto_recover = forms.BooleanField(required=False)
