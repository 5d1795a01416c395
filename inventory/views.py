"""Console pages of the inventory: hosts, sites, racks, roles, naming schemes, tags.

Views only read models, hand forms to templates and call inventory.services for
anything that changes state beyond a plain form save.
"""

from auditlog.models import LogEntry
from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, ProtectedError, Q, RestrictedError, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse, reverse_lazy
from django.views import View
from django.views.generic import CreateView, DeleteView, DetailView, TemplateView, UpdateView
from django_filters.views import FilterView
from django_tables2 import RequestConfig, SingleTableMixin

from core.converters import parse_id
from core.mixins import AdminRequiredMixin, OperatorRequiredMixin, ViewerRequiredMixin
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
    return Job.objects.filter(
        target_type=ContentType.objects.get_for_model(obj), target_id=str(obj.pk)
    ).select_related("created_by")[:20]


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


class HostListView(ViewerRequiredMixin, SingleTableMixin, FilterView):
    filterset_class = HostFilterSet
    table_class = HostTable
    template_name = "inventory/host_list.html"
    # The table paginates; paginate_by would make ListView count the hosts a second time.
    table_pagination = {"per_page": 50}

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


class HostFormView(OperatorRequiredMixin, TemplateView):
    """Create or edit a host together with its interfaces (an inline formset)."""

    template_name = "inventory/host_form.html"

    def get_host(self):
        if "pk" in self.kwargs:
            return get_object_or_404(Host.objects.select_related("role__naming_scheme"), pk=self.kwargs["pk"])
        return Host()

    def initial_from_query(self):
        """Prefill a new host from links such as "add a host in this free rack unit"."""
        keys = ("site", "rack", "position", "role")
        initial = {key: self.request.GET[key] for key in keys if parse_id(self.request.GET.get(key)) is not None}
        if "rack" in initial and "site" not in initial:
            rack = Rack.objects.filter(pk=initial["rack"]).first()
            if rack:
                initial["site"] = rack.site_id
        return initial

    def get(self, request, *args, **kwargs):
        host = self.get_host()
        initial = {} if host.pk else self.initial_from_query()
        return self.show(HostForm(instance=host, initial=initial), InterfaceFormSet(instance=host, prefix="interfaces"))

    def post(self, request, *args, **kwargs):
        host = self.get_host()
        form = HostForm(request.POST, instance=host)
        formset = InterfaceFormSet(request.POST, instance=host, prefix="interfaces")
        if form.is_valid() and formset.is_valid():
            with transaction.atomic():
                host = form.save()
                formset.instance = host
                formset.save()
            messages.success(request, f"Host {host.hostname} saved.")
            return redirect(host)
        return self.show(form, formset)

    def show(self, form, formset):
        host = form.instance
        role = Role.objects.select_related("naming_scheme").filter(pk=int_or_none(form["role"].value())).first()
        return self.render_to_response(
            self.get_context_data(form=form, formset=formset, host=host if host.pk else None, **name_hint(role))
        )


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


# --- generic create / edit / delete for the admin-managed objects ---------------------


class ObjectFormMixin:
    template_name = "inventory/object_form.html"
    list_url = None  # where "Cancel" goes for a new object
    delete_url_name = None

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, f"{self.model._meta.verbose_name.capitalize()} {self.object} saved.")
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["verbose_name"] = self.model._meta.verbose_name
        if self.object is not None and hasattr(self.object, "get_absolute_url"):
            context["cancel_url"] = self.object.get_absolute_url()
        else:
            context["cancel_url"] = self.list_url or self.success_url
        if self.object is not None and self.delete_url_name:
            context["delete_url"] = reverse(self.delete_url_name, args=[self.object.pk])
        return context


class AdminCreateView(AdminRequiredMixin, ObjectFormMixin, CreateView):
    pass


class AdminUpdateView(AdminRequiredMixin, ObjectFormMixin, UpdateView):
    pass


class AdminDeleteView(AdminRequiredMixin, DeleteView):
    """Delete after confirmation; objects still in use (PROTECT) are refused politely."""

    template_name = "inventory/confirm_delete.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["cancel_url"] = (
            self.object.get_absolute_url() if hasattr(self.object, "get_absolute_url") else self.get_success_url()
        )
        context["verbose_name"] = self.model._meta.verbose_name
        return context

    def form_valid(self, form):
        name = str(self.object)
        try:
            response = super().form_valid(form)
        except (ProtectedError, RestrictedError) as exc:
            blocking = getattr(exc, "protected_objects", None) or getattr(exc, "restricted_objects", [])
            users = sorted({str(obj) for obj in blocking})
            shown = ", ".join(users[:10]) + ("…" if len(users) > 10 else "")
            messages.error(self.request, f"{name} is still in use and was not deleted: {shown}.")
            return redirect(self.request.path)
        messages.success(self.request, f"{self.model._meta.verbose_name.capitalize()} {name} deleted.")
        return response


# --- sites and racks -------------------------------------------------------------------


class SiteListView(ViewerRequiredMixin, TemplateView):
    template_name = "inventory/site_list.html"

    def get_context_data(self, **kwargs):
        sites = Site.objects.annotate(
            rack_count=Count("racks", distinct=True), host_count=Count("hosts", distinct=True)
        )
        table = SiteTable(sites)
        RequestConfig(self.request, paginate={"per_page": 50}).configure(table)
        return super().get_context_data(table=table, **kwargs)


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


class HostDeleteView(AdminDeleteView):
    model = Host
    success_url = reverse_lazy("inventory:host_list")


class RackCreateView(AdminCreateView):
    model = Rack
    form_class = RackForm
    list_url = reverse_lazy("inventory:site_list")

    def get_initial(self):
        site = int_or_none(self.request.GET.get("site"))
        return {"site": site} if site else {}


class RackDeleteView(AdminDeleteView):
    model = Rack

    def get_success_url(self):
        return self.object.site.get_absolute_url()


# --- roles, naming schemes, tags ---------------------------------------------------------


class RoleListView(ViewerRequiredMixin, TemplateView):
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
