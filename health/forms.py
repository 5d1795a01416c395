from django import forms

from inventory.models import Host

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
    class Meta:
        model = AlertTarget
        fields = ["name", "kind", "address", "enabled"]


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
