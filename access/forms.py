"""Console forms of access: an SSH credential (its key only ever written, never shown),
trusting a pending host key, and trusting a key known beforehand."""

from django import forms

from inventory.models import Host

from .drivers import ssh as ssh_driver
from .models import SSHCredential
from .services.credentials import assignment_conflicts


class MonospaceTextarea(forms.Textarea):
    extra_classes = "font-monospace small"


class SSHCredentialForm(forms.ModelForm):
    """The stored key is never rendered: the key fields are for a new value only."""

    new_private_key = forms.CharField(
        label="Private key", required=False, widget=MonospaceTextarea(attrs={"rows": 6, "autocomplete": "off"}),
        help_text="OpenSSH or PEM (ed25519, ECDSA, RSA). Stored encrypted and never shown again; "
                  "leave empty to keep the stored key.",
    )
    new_passphrase = forms.CharField(label="Key passphrase", required=False, strip=False,
                                     widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                                     help_text="Only if the key is encrypted; leave empty to keep the stored one")

    class Meta:
        model = SSHCredential
        fields = ["name", "username", "port", "is_default", "roles", "hosts"]
        widgets = {"roles": forms.CheckboxSelectMultiple, "hosts": forms.SelectMultiple(attrs={"size": 8})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hosts"].queryset = Host.objects.order_by("hostname")
        self.fields["hosts"].required = False
        self.fields["roles"].required = False

    def clean(self):
        cleaned = super().clean()
        creating = self.instance.pk is None
        key = cleaned.get("new_private_key") or ("" if creating else self.instance.private_key)
        passphrase = cleaned.get("new_passphrase") or ("" if creating else self.instance.passphrase)
        if not key:
            self.add_error("new_private_key", "A new credential needs its private key.")
        else:
            try:
                ssh_driver.load_private_key(key, passphrase)
            except ssh_driver.BadPrivateKey as exc:
                self.add_error("new_private_key", str(exc))
        conflicts = assignment_conflicts(self.instance, cleaned.get("roles"), cleaned.get("hosts"),
                                         cleaned.get("is_default"))
        for field, messages in conflicts.items():
            for message in messages:
                self.add_error(field, message)
        return cleaned

    def save(self, commit=True):
        if self.cleaned_data.get("new_private_key"):
            self.instance.private_key = self.cleaned_data["new_private_key"]
        if self.cleaned_data.get("new_passphrase"):
            self.instance.passphrase = self.cleaned_data["new_passphrase"]
        return super().save(commit)


class TrustKeyForm(forms.Form):
    fingerprint = forms.CharField(widget=forms.HiddenInput, max_length=100)
    confirm = forms.BooleanField(label="I compared this fingerprint with the host's own (on its console)")


class KnownKeyForm(forms.Form):
    host = forms.ModelChoiceField(queryset=Host.objects.order_by("hostname"))
    public_key = forms.CharField(widget=MonospaceTextarea(attrs={"rows": 3}), max_length=20000,
                                 help_text="One line as in the host's /etc/ssh/ssh_host_*_key.pub")

    def clean_public_key(self):
        value = self.cleaned_data["public_key"]
        try:
            ssh_driver.parse_public_key_line(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return value
