"""Console pages of "what if it died now?" for a hypervisor or a whole rack, and the
dashboard's N+1 card. Read only: they plan, they never act."""

from django.shortcuts import get_object_or_404
from django.views.generic import TemplateView

from core.mixins import ViewerRequiredMixin
from inventory.models import Rack

from .models import Hypervisor
from .placement import PACK, SPREAD
from .services import whatif

POLICY_LABELS = {PACK: "Pack: spares first (as the HA restart does)", SPREAD: "Spread: the roomiest host first"}


def chosen_policy(request):
    policy = request.GET.get("policy")
    return policy if policy in POLICY_LABELS else PACK


class WhatIfMixin(ViewerRequiredMixin):
    template_name = "hypervisors/what_if.html"

    def get_context_data(self, **kwargs):
        policy = chosen_policy(self.request)
        return super().get_context_data(result=self.result(policy), policy=policy, policies=POLICY_LABELS.items(),
                                        **kwargs)


class HypervisorWhatIfView(WhatIfMixin, TemplateView):
    def result(self, policy):
        self.hypervisor = get_object_or_404(Hypervisor.objects.select_related("host__site"), pk=self.kwargs["pk"])
        return whatif.hypervisor_what_if(self.hypervisor, policy)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(subject=self.hypervisor.name, site=self.hypervisor.host.site, hypervisor=self.hypervisor,
                       back_url=self.hypervisor.get_absolute_url())
        return context


class RackWhatIfView(WhatIfMixin, TemplateView):
    def result(self, policy):
        self.rack = get_object_or_404(Rack.objects.select_related("site"), pk=self.kwargs["pk"])
        return whatif.rack_what_if(self.rack, policy)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(subject=f"rack {self.rack.name}", site=self.rack.site, rack=self.rack,
                       back_url=self.rack.get_absolute_url())
        return context


def dashboard_n_plus_one():
    """The dashboard card's context entry: every site's N+1 check (five queries)."""
    checks = whatif.n_plus_one()
    return {"checks": checks, "at_risk": whatif.sites_at_risk(checks)}
