"""Console pages of access: the SSH host keys, trusting one (admins), trusting a key known
beforehand, and revoking a trusted one. The pages stay under /health/host-keys/."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView

from core.mixins import RoleRequiredMixin, ViewerRequiredMixin

from .forms import KnownKeyForm, TrustKeyForm
from .models import HostKey
from .services import trust

HOST_KEYS_URL = reverse_lazy("access:host_keys")


def host_keys_context(known_form=None):
    keys = HostKey.objects.select_related("host", "trusted_by").order_by("host__hostname", "key_type")
    return {"pending": [k for k in keys if not k.trusted], "trusted": [k for k in keys if k.trusted],
            "trust_form": TrustKeyForm(), "known_form": known_form or KnownKeyForm()}


class HostKeyListView(ViewerRequiredMixin, TemplateView):
    template_name = "access/host_keys.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(**host_keys_context(), **kwargs)


class TrustHostKeyView(RoleRequiredMixin, View):
    required_role = trust.trust.role

    def post(self, request, pk):
        key = get_object_or_404(HostKey.objects.select_related("host"), pk=pk)
        form = TrustKeyForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Tick the box to confirm you compared the fingerprint; the key was not trusted.")
        else:
            try:
                trust.trust(key, user=request.user, confirm_fingerprint=form.cleaned_data["fingerprint"])
                messages.success(request, f"{key.host.hostname}: {key.key_type} {key.fingerprint} is trusted.")
            except trust.FingerprintMismatch as exc:
                messages.error(request, str(exc))
        return redirect(safe_next(request) or HOST_KEYS_URL)


def safe_next(request):
    """The form's "next" page, if it is one of ours (never an open redirect)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return None


class KnownHostKeyView(RoleRequiredMixin, View):
    required_role = trust.trust.role

    def post(self, request):
        form = KnownKeyForm(request.POST)
        if form.is_valid():
            key = trust.trust_public_key(form.cleaned_data["host"], form.cleaned_data["public_key"], user=request.user)
            messages.success(request, f"{key.host.hostname}: {key.key_type} {key.fingerprint} is trusted.")
            return redirect(HOST_KEYS_URL)
        return render(request, "access/host_keys.html", host_keys_context(known_form=form), status=400)
