"""Console pages of the inventory: hosts, sites, racks, roles, naming schemes, tags.

Views only read models, hand forms to templates and call inventory.services for
anything that changes state beyond a plain form save.
"""

from auditlog.models import LogEntry
from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse, reverse_lazy
from django.views import View
from django.views.generic import DetailView, TemplateView

from core.converters import parse_id
from core.generic import ModelRoleMixin, ObjectDeleteView, ObjectEditView, ObjectTableView
from core.mixins import OperatorRequiredMixin, ViewerRequiredMixin
from core.models import Job

from . import services
from .filters import HostFilterSet
from .forms import HostForm, InterfaceFormSet, JournalEntryForm, RackForm, StatusChangeForm
from .models import Host, HostStatus, Interface, JournalEntry, NamingScheme, Rack, Role, Site, Tag, allowed_transitions
from .tables import HostTable, SiteTable, rack_elevation

HISTORY_SHOWN = 50
JOURNAL_SHOWN = 100


def optional_url(name):
    """The URL of a page another part of the product may not provide yet, or ''."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


def host_queryset():
    """Hosts with everything a list row or a detail header shows, in a fixed number of queries."""
    return Host.objects.select_related("role__naming_scheme", "site", "rack__site", "health").prefetch_related("tags")


def host_history(host, limit=HISTORY_SHOWN):
    """Change-log entries of the host and of its interfaces and journal, including those
    of interfaces already deleted (their log text starts with "hostname:")."""
    types = ContentType.objects.get_for_models(Host, Interface, JournalEntry)
    owned = [types[Interface], types[JournalEntry]]
    return (
        LogEntry.objects.filter(
            Q(content_type=types[Host], object_pk=str(host.pk))
            | Q(content_type=types[Interface], object_id__in=host.interfaces.values("pk"))
            | Q(content_type=types[JournalEntry], object_id__in=host.journal.values("pk"))
            | Q(content_type__in=owned, object_repr__startswith=f"{host.hostname}:")
        )
        .select_related("actor", "content_type")
        .order_by("-timestamp", "-pk")[:limit]
    )


def jobs_for(obj):
    return Job.objects.for_target(obj).select_related("created_by")[:20]


def name_pools(schemes):
    """{scheme pk: free names} for many naming schemes in one query."""
    all_names = {name for scheme in schemes for name in scheme.names}
    taken = set(Host.objects.filter(hostname__in=all_names).values_list("hostname", flat=True))
    return {scheme.pk: [name for name in scheme.names if name not in taken] for scheme in schemes}


def int_or_none(value):
    return parse_id(value)


def name_hint(role):
    """What the host form says about the chosen role's naming scheme."""
    if role is None or role.naming_scheme_id is None:
        return {"hint_role": role, "free_count": 0}
    free = services.free_names(role)
    return {"hint_role": role, "free_count": len(free), "next_name": free[0] if free else ""}


# --- hosts -------------------------------------------------------------------------


class HostListView(ObjectTableView):
    model = Host
    filterset_class = HostFilterSet
    table_class = HostTable
    template_name = "inventory/host_list.html"

    def get_queryset(self):
        return host_queryset()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["import_url"] = optional_url("inventory:host_import")
        context["export_url"] = optional_url("inventory:host_export")
        context["status_choices"] = HostStatus.choices
        context["roles"] = Role.objects.all()
        context["sites"] = Site.objects.all()
        context["tags"] = Tag.objects.all()
        context["active_filters"] = any(self.request.GET.get(k) for k in ("q", "status", "role", "site", "tag", "rack"))
        return context


class HostDetailView(ViewerRequiredMixin, DetailView):
    template_name = "inventory/host_detail.html"
    context_object_name = "host"

    def get_queryset(self):
        return host_queryset().prefetch_related("interfaces")

    def get_context_data(self, **kwargs):
        host = self.object
        context = super().get_context_data(**kwargs)
        if host.rack_id:
            mounted = host.rack.hosts.filter(position__isnull=False)
            neighbours = mounted.only("hostname", "position", "u_height", "status", "rack")
            context["elevation"] = rack_elevation(host.rack, neighbours, highlight=host.pk)
        allowed = set(allowed_transitions(host.status))
        context["transitions"] = [status for status in HostStatus if status in allowed]  # lifecycle order
        context["journal"] = host.journal.select_related("author")[:JOURNAL_SHOWN]
        context["journal_form"] = JournalEntryForm()
        context["history"] = host_history(host)
        context["jobs"] = jobs_for(host)
        return context


def initial_from_query(request):
    """Prefill a new host from links such as "add a host in this free rack unit"."""
    keys = ("site", "rack", "position", "role")
    initial = {key: request.GET[key] for key in keys if parse_id(request.GET.get(key)) is not None}
    if "rack" in initial and "site" not in initial:
        rack = Rack.objects.filter(pk=initial["rack"]).first()
        if rack:
            initial["site"] = rack.site_id
    return initial


class HostEditView(ObjectEditView):
    """Add or edit a host together with its interfaces (an inline formset)."""

    model = Host
    form_class = HostForm
    template_name = "inventory/host_form.html"
    context_object_name = "host"
    queryset = Host.objects.select_related("role__naming_scheme")
    formset = None  # the posted interfaces, shown again with their errors

    def get_initial(self):
        return {} if self.object else initial_from_query(self.request)

    def post(self, request, *args, **kwargs):
        self.object = self.get_object()
        form = self.get_form()
        self.formset = InterfaceFormSet(request.POST, instance=form.instance, prefix="interfaces")
        if not (form.is_valid() and self.formset.is_valid()):
            return self.form_invalid(form)
        with transaction.atomic():
            self.object = form.save()
            self.formset.instance = self.object
            self.formset.save()
        messages.success(request, f"Host {self.object.hostname} saved.")
        return redirect(self.object)

    def get_context_data(self, **kwargs):
        form = kwargs.setdefault("form", self.get_form())
        formset = self.formset or InterfaceFormSet(instance=form.instance, prefix="interfaces")
        role = Role.objects.select_related("naming_scheme").filter(pk=int_or_none(form["role"].value())).first()
        return super().get_context_data(formset=formset, **name_hint(role), **kwargs)


class HostNameHintView(OperatorRequiredMixin, View):
    """HTMX: the "suggest a name" button for the role just chosen in the host form."""

    def get(self, request):
        role = Role.objects.select_related("naming_scheme").filter(pk=int_or_none(request.GET.get("role"))).first()
        return render(request, "inventory/_name_hint.html", name_hint(role))


class HostSuggestNameView(OperatorRequiredMixin, View):
    """HTMX: the hostname input, filled with the next free name of the role's scheme."""

    def get(self, request):
        role = get_object_or_404(Role.objects.select_related("naming_scheme"), pk=int_or_none(request.GET.get("role")))
        name = services.suggest_name(role)
        form = HostForm(initial={"hostname": name or ""})
        return render(request, "inventory/_hostname_input.html", {"form": form, "suggested": name, "role": role})


class HostStatusView(OperatorRequiredMixin, View):
    def post(self, request, pk):
        host = get_object_or_404(Host, pk=pk)
        form = StatusChangeForm(request.POST)
        if not form.is_valid():
            messages.error(request, f"{request.POST.get('status', '')!r} is not a host status.")
            return redirect(host)
        new_status = form.cleaned_data["status"]
        try:
            services.change_status(host, new_status, user=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.message_dict.get("status", exc.messages)))
        else:
            messages.success(request, f"{host.hostname} is now {HostStatus(new_status).label.lower()}.")
        return redirect(host)


class JournalAddView(OperatorRequiredMixin, View):
    """Add a journal entry; with HTMX answers the refreshed journal card."""

    def post(self, request, pk):
        host = get_object_or_404(Host, pk=pk)
        form = JournalEntryForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            services.add_journal_entry(host, data["text"], author=request.user, kind=data["kind"])
            form = JournalEntryForm()
        elif not request.htmx:
            messages.error(request, "The journal entry needs some text.")
        if not request.htmx:
            return redirect(host)
        context = {"host": host, "journal": host.journal.select_related("author")[:JOURNAL_SHOWN], "journal_form": form}
        return render(request, "inventory/_journal.html", context)


# --- sites and racks -------------------------------------------------------------------


class SiteListView(ObjectTableView):
    model = Site
    table_class = SiteTable
    template_name = "inventory/site_list.html"

    def get_queryset(self):
        return Site.objects.annotate(rack_count=Count("racks", distinct=True), host_count=Count("hosts", distinct=True))


def racks_with_usage(racks):
    return racks.annotate(
        host_count=Count("hosts"), used_units=Sum("hosts__u_height", filter=Q(hosts__position__isnull=False))
    )


class SiteDetailView(ViewerRequiredMixin, DetailView):
    model = Site
    template_name = "inventory/site_detail.html"

    def get_context_data(self, **kwargs):
        site = self.object
        by_status = dict(site.hosts.values_list("status").annotate(count=Count("pk")).order_by())
        racks = list(racks_with_usage(site.racks.all()))
        for rack in racks:
            rack.used_percent = round(100 * (rack.used_units or 0) / rack.u_height)
        return super().get_context_data(
            racks=racks,
            host_total=sum(by_status.values()),
            status_counts=[(HostStatus(s), by_status[s]) for s in HostStatus.values if by_status.get(s)],
            unracked=site.hosts.filter(rack__isnull=True).count(),
            **kwargs,
        )


class RackDetailView(ViewerRequiredMixin, DetailView):
    template_name = "inventory/rack_detail.html"
    queryset = Rack.objects.select_related("site")

    def get_context_data(self, **kwargs):
        rack = self.object
        hosts = list(rack.hosts.select_related("role").order_by("-position", "hostname"))
        mounted = [host for host in hosts if host.position is not None]
        used = sum(host.u_height for host in mounted)
        return super().get_context_data(
            elevation=rack_elevation(rack, mounted),
            hosts=hosts,
            used_units=used,
            used_percent=round(100 * used / rack.u_height),
            **kwargs,
        )


class RackEditView(ObjectEditView):
    """Racks are listed on their site's page; a new one may come with ?site=<pk>."""

    model = Rack
    form_class = RackForm
    list_url = reverse_lazy("inventory:site_list")

    def get_initial(self):
        site = int_or_none(self.request.GET.get("site"))
        return {"site": site} if site and self.object is None else {}


class RackDeleteView(ObjectDeleteView):
    model = Rack

    def get_success_url(self):
        return self.object.site.get_absolute_url()


# --- roles, naming schemes, tags ---------------------------------------------------------


class RoleListView(ModelRoleMixin, TemplateView):
    """Roles, and on the same page the naming schemes and tags they are used with."""

    model = Role
    template_name = "inventory/role_list.html"

    def get_context_data(self, **kwargs):
        schemes = list(NamingScheme.objects.annotate(role_count=Count("roles")))
        free = name_pools(schemes)
        for scheme in schemes:
            scheme.free_names = free[scheme.pk]
        roles = list(Role.objects.select_related("naming_scheme").annotate(host_count=Count("hosts")))
        for role in roles:
            role.free_count = len(free[role.naming_scheme_id]) if role.naming_scheme_id else None
        tags = Tag.objects.annotate(host_count=Count("hosts"))
        return super().get_context_data(roles=roles, schemes=schemes, tags=tags, **kwargs)
