"""Forms of the replacement pages: confirming a step (and, for the take-over, the spare and its name)."""

from django import forms

from .models import Host, ReplacementStep
from .services import recovery


class ConfirmStepForm(forms.Form):
    confirm = forms.BooleanField(
        required=True, label="I confirm this step; my name goes into the journal",
        error_messages={"required": "Tick the box to confirm: this step changes the inventory."},
    )
    spare = forms.ModelChoiceField(queryset=Host.objects.none(), required=False, empty_label=None,
                                   help_text="Spares that fit (same site, at least as many cores, memory and disk)")
    hostname = forms.CharField(max_length=63, required=False, label="New name of the spare")

    def __init__(self, *args, replacement, step, **kwargs):
        super().__init__(*args, **kwargs)
        self.replacement, self.step = replacement, step
        if step.kind == ReplacementStep.Kind.TAKE_OVER:
            self.fields["spare"].queryset = recovery.fitting_spares(replacement)
            self.fields["spare"].initial = replacement.spare_id
            self.fields["hostname"].initial = replacement.new_hostname
            self.fields["hostname"].help_text = replacement.naming_note
        else:
            del self.fields["spare"], self.fields["hostname"]

    def choices(self):
        """The spare and name chosen (take-over step only)."""
        return {key: self.cleaned_data[key] for key in ("spare", "hostname") if self.cleaned_data.get(key)}
