"""Console pages of health: what is failing now, a host's health (checks, charts, events,
its SSH host keys), alerts, settings (schedules, ports, credentials, alert targets) and
the /metrics scrape endpoint. The host-key pages themselves are access's."""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.views import View
from django.views.generic import DetailView, ListView, TemplateView

from access.forms import TrustKeyForm
from access.models import HostKey, SSHCredential
from core.generic import ObjectEditView
from core.mixins import ActionRequiredMixin, OperatorRequiredMixin, ViewerRequiredMixin
from hypervisors.models import Hypervisor
from hypervisors.services import ha_restart
from inventory.models import Host, Site

from . import conf, selectors, tasks
from .forms import FenceDeviceForm, RecoveryPolicyForm, StartRecoveryForm
from .models import (
    Alert,
    AlertTarget,
    CheckSchedule,
    FenceAttempt,
    FenceDevice,
    PortCheck,
    Recovery,
    SiteRecoveryPolicy,
)
from .services import history, prometheus, recovery
from .templatetags.health import health_of

SETTINGS_URL = reverse_lazy("health:settings")


class DashboardView(ViewerRequiredMixin, TemplateView):
    """What is failing now (the live part refreshes itself)."""

    template_name = "health/dashboard.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(**failing_now_context(), **kwargs)


class FailingNowView(ViewerRequiredMixin, TemplateView):
    template_name = "health/_failing_now.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(**failing_now_context(), **kwargs)


def failing_now_context():
    return {
        "state_counts": selectors.state_counts(),
        "not_healthy": selectors.not_healthy(),
        "failing_checks": selectors.failing_checks_on_healthy_hosts(),
        "events": selectors.recent_events(),
        "alerts": selectors.recent_alerts(),
        "pending_keys": selectors.pending_key_count(),
    }


class HostHealthMixin:
    model = Host
    context_object_name = "host"
    queryset = Host.objects.select_related("site", "role")

    def get_context_data(self, **kwargs):
        host = self.object
        chart_range = self.request.GET.get("range", "24h")
        if chart_range not in history.CHART_RANGES:
            chart_range = "24h"
        return super().get_context_data(
            health=health_of(host),
            statuses=selectors.host_statuses(host),
            series=history.metric_series(host, history.CHART_RANGES[chart_range]),
            series_id=f"health-series-{host.pk}",
            chart_range=chart_range,
            chart_ranges=list(history.CHART_RANGES),
            **kwargs,
        )


class HostHealthView(ViewerRequiredMixin, HostHealthMixin, DetailView):
    template_name = "health/host_health.html"

    def get_context_data(self, **kwargs):
        host = self.object
        return super().get_context_data(
            events=selectors.recent_events(host),
            alerts=selectors.recent_alerts(host),
            keys=HostKey.objects.filter(host=host).select_related("trusted_by"),
            trust_form=TrustKeyForm(),
            recovery_form=kwargs.pop("recovery_form", None) or StartRecoveryForm(),
            **recovery_context(host),
            **kwargs,
        )


class HostHealthPanelView(ViewerRequiredMixin, HostHealthMixin, DetailView):
    """The health card of a host, for other pages to load (hx-get) into theirs; it says
    when a recovery of the host waits for an operator or is running."""

    template_name = "health/_host_panel.html"

    def get_context_data(self, **kwargs):
        open_recovery = (Recovery.objects.filter(host=self.object, state__in=Recovery.OPEN_STATES)
                         .order_by("-created_at").first())
        return super().get_context_data(open_recovery=open_recovery, **kwargs)


class CheckNowView(OperatorRequiredMixin, View):
    """A sweep Job now: of one host (pk) or of every checked host."""

    def post(self, request, pk=None):
        if pk is None:
            job = tasks.start_sweep(request.user, title="Health checks of all hosts")
        else:
            host = get_object_or_404(Host, pk=pk)
            job = tasks.start_sweep(request.user, [host.pk], title=f"Health checks of {host.hostname}", target=host)
        return redirect("job_detail", pk=job.pk)


# --- alerts ----------------------------------------------------------------------------


class ElidedPagesMixin:
    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        page = context["page_obj"]
        context["page_range"] = page.paginator.get_elided_page_range(page.number) if page else []
        return context


class AlertListView(ViewerRequiredMixin, ElidedPagesMixin, ListView):
    template_name = "health/alerts.html"
    paginate_by = 50
    context_object_name = "alerts"

    def get_queryset(self):
        return Alert.objects.select_related("host").prefetch_related("deliveries__attempt_log")


# --- settings ----------------------------------------------------------------------------


class SettingsView(ViewerRequiredMixin, TemplateView):
    template_name = "health/settings.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            schedules=CheckSchedule.objects.select_related("role", "host"),
            port_checks=PortCheck.objects.select_related("role"),
            credentials=SSHCredential.objects.prefetch_related("roles", "hosts"),
            targets=AlertTarget.objects.all(),
            sites=Site.objects.order_by("name"),
            auto_sites=set(SiteRecoveryPolicy.objects.filter(auto_recover=True).values_list("site_id", flat=True)),
            fence_devices=FenceDevice.objects.select_related("host").order_by("host__hostname"),
            detection=[
                ("Suspect", "after the first round of checks that got no answer"),
                ("Failed", f"after {conf.integer('HEALTH_FAILURE_THRESHOLD')} failed rounds within "
                           f"{conf.number('HEALTH_FAILURE_WINDOW_SECONDS'):g} s"),
                ("Recovered", f"after {conf.integer('HEALTH_RECOVERY_THRESHOLD')} successful rounds in a row"),
                ("Flapping", f"more than {conf.integer('HEALTH_FLAP_THRESHOLD')} state changes in "
                             f"{conf.number('HEALTH_FLAP_WINDOW_SECONDS'):g} s (alerts held back)"),
                ("Liveness checks", ", ".join(sorted(conf.liveness_checks()))),
                ("Suspect re-check", f"every {conf.number('HEALTH_SUSPECT_INTERVAL_SECONDS'):g} s at least"),
                ("Concurrency", f"{conf.integer('HEALTH_SWEEP_CONCURRENCY')} checks at once"),
                ("Timeouts", ", ".join(f"{c} {conf.check_timeout(c):g} s" for c in ("ssh", "metrics", "libvirt", "tcp", "bmc"))),
            ],
            **kwargs,
        )


# --- /metrics ------------------------------------------------------------------------------


@method_decorator(login_not_required, name="dispatch")
class MetricsView(View):
    """Prometheus scrape endpoint: a bearer token (HEALTH_METRICS_TOKEN) or, in development
    and for a request no proxy forwarded, a client address on HEALTH_METRICS_ALLOWED_IPS;
    anyone else gets 401 (no token sent) or 403."""

    def get(self, request):
        authorization = request.headers.get("Authorization", "")
        if not prometheus.allowed(request.META.get("REMOTE_ADDR"), authorization, prometheus.forwarded(request.META)):
            if authorization:
                return HttpResponse("Forbidden: wrong token\n", status=403, content_type="text/plain")
            response = HttpResponse("Unauthorized: send Authorization: Bearer <token>\n", status=401,
                                    content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="opsconsole metrics"'
            return response
        return HttpResponse(prometheus.render(), content_type=prometheus.CONTENT_TYPE)


# --- fencing and recovery ------------------------------------------------------------------


def recovery_context(host):
    """What the host page shows about fencing and recovery."""
    hypervisor = Hypervisor.objects.filter(host=host).select_related("host").first()
    recoveries = list(host.recoveries.select_related("job", "requested_by")[:5])
    attempts = list(host.fence_attempts.select_related("requested_by")[:10])
    return {
        "hypervisor": hypervisor,
        "fence_device": FenceDevice.objects.filter(host=host).first(),
        "fence_attempts": attempts,
        "last_fence_failed": bool(attempts) and attempts[0].outcome == FenceAttempt.Outcome.FAILED,
        "recoveries": recoveries,
        "open_recovery": next((r for r in recoveries if r.state in Recovery.OPEN_STATES), None),
        "restart_plan": ha_restart.restart_plan(hypervisor) if hypervisor else None,
        "auto_recover": recovery.auto_recovery_on(host.site_id),
        "can_recover": hypervisor is not None and recovery.looks_failed(host),
    }


class FenceDeviceEditView(ObjectEditView):
    """A host's fence device (the URL's pk is the host's): created on first save, edited afterwards."""

    model = FenceDevice
    form_class = FenceDeviceForm
    list_url = SETTINGS_URL

    def get_object(self, queryset=None):
        host = get_object_or_404(Host, pk=self.kwargs["pk"])
        return FenceDevice.objects.filter(host=host).first() or FenceDevice(host=host)

    def get_success_url(self):
        return reverse("health:host", args=[self.object.host_id])

    get_cancel_url = get_success_url


class StartRecoveryView(ActionRequiredMixin, View):
    """'Fence and restart' or 'Confirm powered off' on a failed hypervisor."""

    performs = recovery.start_recovery

    def post(self, request, pk):
        host = get_object_or_404(Host.objects.select_related("site", "role"), pk=pk)
        form = StartRecoveryForm(request.POST)
        if not form.is_valid():
            page = HostHealthView()
            page.setup(request, pk=pk)
            page.object = host
            return render(request, page.template_name, page.get_context_data(recovery_form=form), status=400)
        try:
            started = recovery.start_recovery(host, user=request.user, note=form.cleaned_data["note"],
                                              confirmed_off=form.cleaned_data["mode"] == form.CONFIRMED_OFF)
        except recovery.RecoveryRefused as exc:
            messages.error(request, str(exc))
            return redirect("health:host", pk=host.pk)
        return redirect("health:recovery_detail", pk=started.pk)


class RecoveryDetailView(ViewerRequiredMixin, DetailView):
    """A recovery: its fence attempt, its job (live) and one bar per VM restarted."""

    model = Recovery
    template_name = "health/recovery_detail.html"
    queryset = Recovery.objects.select_related("host", "job", "fence_attempt", "requested_by")

    def get_context_data(self, **kwargs):
        job = self.object.job
        return super().get_context_data(
            children=list(job.children.order_by("pk")) if job else [], **kwargs)


class RecoveryProgressView(RecoveryDetailView):
    template_name = "health/_recovery_progress.html"


class RecoveryListView(ViewerRequiredMixin, ElidedPagesMixin, ListView):
    template_name = "health/recoveries.html"
    paginate_by = 50
    context_object_name = "recoveries"
    queryset = Recovery.objects.select_related("host", "requested_by", "job")


class DismissRecoveryView(ActionRequiredMixin, View):
    performs = recovery.dismiss

    def post(self, request, pk):
        proposal = get_object_or_404(Recovery.objects.select_related("host"), pk=pk)
        try:
            recovery.dismiss(proposal, request.user)
            messages.info(request, f"Recovery proposal for {proposal.host.hostname} dismissed.")
        except recovery.RecoveryRefused as exc:
            messages.error(request, str(exc))
        return redirect("health:host", pk=proposal.host_id)


class RecoveryPolicyView(ActionRequiredMixin, View):
    """Turn auto-recovery on or off for a site."""

    performs = recovery.set_auto_recovery

    def post(self, request, site_pk):
        site = get_object_or_404(Site, pk=site_pk)
        form = RecoveryPolicyForm(request.POST)
        form.is_valid()  # a lone optional checkbox: always valid
        policy = recovery.set_auto_recovery(site, form.cleaned_data["auto_recover"], request.user)
        messages.success(request, f"Auto-recovery at {site.name} is {'on' if policy.auto_recover else 'off'}.")
        return redirect(f"{reverse('health:settings')}#recovery-policies")
