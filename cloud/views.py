"""Console pages of the cloud app: accounts (with connection test and catalogue refresh
as jobs), right-sizing with cost on premises against AWS, cost models and the sizing
policy, the price table and the instance type catalogue.

Views read models and call services; connection tests and catalogue refreshes are jobs
started by the actions of cloud.services.accounts."""

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views import View
from django.views.generic import DetailView, TemplateView
from django_filters.views import FilterView

from core.converters import parse_id
from core.generic import ObjectEditView, ObjectListView
from core.mixins import ActionRequiredMixin, ViewerRequiredMixin
from core.models import Job

from .api.filters import InstanceTypeFilterSet
from .forms import BOTH, HOSTS, VMS, SizingForm, SizingPolicyForm
from .models import CloudAccount, InstanceType, OnPremCostModel, SizingPolicy
from .services import accounts
from .services import prices as price_service
from .services.recommendations import recommend
from .services.sizing import Policy
from .services.workloads import HOST, VM, select_workloads

RECENT_JOBS = 8
MAX_SIZED = 1000  # rows on the right-sizing page
CHART_ROWS = 40


COST_SETTINGS = reverse_lazy("cloud:cost_settings")


def account_jobs(account, limit=RECENT_JOBS):
    return Job.objects.for_target(account).select_related("created_by")[:limit]


def catalogue_counts():
    return dict(InstanceType.objects.values_list("region").annotate(count=Count("pk")).order_by())


# --- accounts ---------------------------------------------------------------------------


class AccountListView(ObjectListView):
    model = CloudAccount
    template_name = "cloud/account_list.html"
    context_object_name = "accounts"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        counts = catalogue_counts()
        for account in context["accounts"]:
            account.instance_type_count = counts.get(account.region, 0)
        return context


def status_context(account):
    jobs = list(account_jobs(account))
    running = [job for job in jobs if not job.is_finished]
    return {"account": account, "jobs": jobs, "running": running,
            "instance_type_count": InstanceType.objects.filter(region=account.region).count()}


class AccountDetailView(ViewerRequiredMixin, DetailView):
    model = CloudAccount
    template_name = "cloud/account_detail.html"
    context_object_name = "account"

    def get_context_data(self, **kwargs):
        region = self.object.region
        types = InstanceType.objects.filter(region=region)
        summary = types.aggregate(total=Count("pk"), families=Count("family", distinct=True),
                                  current=Count("pk", filter=Q(generation=InstanceType.Generation.CURRENT)))
        try:
            priced = {entry.family for entry in price_service.price_table(region).ec2.values()}
        except price_service.NoPriceTable:
            priced = set()
        # The families right-sizing can choose from: offered here and in the price table.
        families = types.filter(family__in=priced).values("family").annotate(count=Count("pk")).order_by("family")
        return super().get_context_data(catalogue=summary, families=families, **status_context(self.object),
                                        **kwargs)


class AccountStatusView(ViewerRequiredMixin, View):
    """The account's connection card, polled while one of its jobs runs."""

    def get(self, request, pk):
        account = get_object_or_404(CloudAccount, pk=pk)
        return render(request, "cloud/_account_status.html", status_context(account))


class AccountJobView(ActionRequiredMixin, View):
    """Start a connection test or a catalogue refresh of the account (a job)."""

    starters = {"test": accounts.request_connection_test, "refresh": accounts.request_catalogue_refresh}
    performs = accounts.request_connection_test  # both are operators' actions

    def post(self, request, pk, what):
        account = get_object_or_404(CloudAccount, pk=pk)
        with transaction.atomic():
            job = self.starters[what](account, user=request.user)
        messages.info(request, f"{job.title}: job #{job.pk} started.")
        return redirect(account)


# --- right-sizing ----------------------------------------------------------------------------


def ids(request, name):
    return [pk for pk in map(parse_id, request.GET.getlist(name)) if pk is not None]


class SizingView(ViewerRequiredMixin, TemplateView):
    """Right-sizing of the chosen hosts and VMs: target, reason, monthly cost on premises
    against AWS and the difference. Chosen by filter, or by ids (?host=1&vm=2)."""

    template_name = "cloud/sizing.html"

    def get_context_data(self, **kwargs):
        data = self.request.GET
        form = SizingForm(data or None, initial={"account": CloudAccount.objects.filter(is_embedded=True).first()})
        context = super().get_context_data(form=form, policy=Policy.default(), **kwargs)
        host_ids, vm_ids = ids(self.request, "host"), ids(self.request, "vm")
        if not (data.get("size") or host_ids or vm_ids) or not form.is_valid():
            return context
        options = form.cleaned_data
        context["policy_changed"] = bool(form.policy_overrides())
        kinds = {HOSTS: (HOST,), VMS: (VM,)}.get(options.get("workloads") or BOTH, (HOST, VM))
        workloads, truncated = select_workloads(
            kinds=kinds, site=_slug(options.get("site")), role=_slug(options.get("role")), tag=_slug(options.get("tag")),
            host_status=options.get("status"), host_ids=host_ids, vm_ids=vm_ids, limit=MAX_SIZED,
        )
        try:
            result = recommend(workloads, account=options.get("account"), policy_overrides=form.policy_overrides())
        except price_service.NoPriceTable as exc:
            form.add_error("account", str(exc))
            return context
        context.update(result=result, totals=result.totals, truncated=truncated, max_sized=MAX_SIZED,
                       chart=_chart(result.recommendations), sized=True)
        return context


def _slug(obj):
    return obj.slug if obj is not None else None


def _chart(recommendations):
    """On premises against AWS per workload, for the bar chart (the most expensive first)."""
    rows = [r for r in recommendations if r.cost and r.cost.difference is not None]
    rows.sort(key=lambda r: max(r.cost.onprem_monthly, r.cost.aws_monthly), reverse=True)
    rows = rows[:CHART_ROWS]
    return {
        "labels": [r.workload.name for r in rows],
        "onprem": [float(r.cost.onprem_monthly) for r in rows],
        "aws": [float(r.cost.aws_monthly) for r in rows],
    }


# --- costs and policy ------------------------------------------------------------------------


class CostSettingsView(ViewerRequiredMixin, TemplateView):
    template_name = "cloud/cost_settings.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            models=OnPremCostModel.objects.select_related("role"), policy=SizingPolicy.default(), **kwargs
        )


class PolicyUpdateView(ObjectEditView):
    """The one sizing policy right-sizing uses (no pk: there is only the default)."""

    model = SizingPolicy
    form_class = SizingPolicyForm
    list_url = COST_SETTINGS

    def get_object(self, queryset=None):
        return SizingPolicy.default()


# --- prices and catalogue ------------------------------------------------------------------------


class PriceTableView(ViewerRequiredMixin, TemplateView):
    template_name = "cloud/prices.html"

    def get_context_data(self, **kwargs):
        regions = price_service.available_regions()
        region = self.request.GET.get("region") or ("us-east-1" if "us-east-1" in regions else next(iter(regions), ""))
        context = super().get_context_data(regions=regions, region=region, **kwargs)
        if region in regions:
            table = price_service.price_table(region)
            month = price_service.HOURS_PER_MONTH
            context.update(
                table=table,
                ec2=[(e, e.hourly * month) for e in sorted(table.ec2.values(), key=lambda e: (e.family, e.vcpus))],
                rds=[(engine, e, e.hourly * month) for engine, classes in sorted(table.rds.items())
                     for e in sorted(classes.values(), key=lambda e: (e.name.rsplit(".", 1)[0], e.hourly))],
            )
        return context


class InstanceTypeListView(ViewerRequiredMixin, FilterView):
    template_name = "cloud/instance_types.html"
    filterset_class = InstanceTypeFilterSet
    paginate_by = 100
    context_object_name = "instance_types"

    def get_queryset(self):
        return InstanceType.objects.order_by("region", "family", "vcpus", "memory_mib", "name")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(regions=catalogue_counts(), **kwargs)
        page = context.get("page_obj")
        context["page_range"] = page.paginator.get_elided_page_range(page.number) if page else []
        return context
