"""The console's "Repaired" button (host page, hypervisor page): it calls
inventory.services.repair.mark_repaired, whose role guards the view too."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from core.mixins import RoleRequiredMixin

from .models import Host, HostStatus
from .services.repair import mark_repaired


class HostRepairedView(RoleRequiredMixin, View):
    required_role = mark_repaired.role

    def post(self, request, pk):
        host = get_object_or_404(Host, pk=pk)
        try:
            host = mark_repaired(host, user=request.user, note=request.POST.get("note", "").strip()[:500])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{host.hostname} is repaired and {HostStatus(host.status).label.lower()} again.")
        back = request.POST.get("next", "")
        if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
            return redirect(back)
        return redirect(host)
