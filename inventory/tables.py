"""Tables of the inventory console (django-tables2) and the rack elevation layout."""

from dataclasses import dataclass

import django_tables2 as tables
from django.utils.html import format_html, format_html_join

from core.tables import Table
from core.templatetags.console import tag_badge

from .models import Host, Site

STATUS_BADGE = "{% load console %}{% status_badge record %}"
# The health app's badge, by template tag: the inventory shows it without importing health
# (health depends on the inventory, not the other way round).
HEALTH_BADGE = "{% load health %}{% health_badge record %}"


class HostTable(Table):
    hostname = tables.Column(linkify=True, attrs={"td": {"class": "fw-semibold"}})
    status = tables.TemplateColumn(STATUS_BADGE, order_by=("status",))
    health = tables.TemplateColumn(HEALTH_BADGE, verbose_name="Health", order_by=("health__state",))
    role = tables.Column(accessor="role__name", verbose_name="Role", order_by=("role__name",))
    site = tables.Column(accessor="site__name", verbose_name="Site", order_by=("site__name",))
    rack_position = tables.Column(verbose_name="Rack / U", empty_values=(), order_by=("rack__name", "position"))
    vendor_model = tables.Column(verbose_name="Vendor / model", empty_values=(), order_by=("vendor", "model"))
    cpu_cores = tables.Column(verbose_name="Cores", attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}})
    memory_mib = tables.Column(verbose_name="Memory", attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}})
    mgmt_address = tables.Column(verbose_name="Mgmt address", attrs={"td": {"class": "font-monospace small"}})
    owner = tables.Column()
    tags = tables.Column(empty_values=(), orderable=False)

    class Meta:
        model = Host
        fields = ()
        sequence = (
            "hostname", "status", "health", "role", "site", "rack_position", "vendor_model",
            "cpu_cores", "memory_mib", "mgmt_address", "owner", "tags",
        )  # fmt: skip
        attrs = {"id": "host-table", "class": "table table-sm table-hover align-middle mb-2"}
        row_attrs = {"data-status": lambda record: record.status, "data-hostname": lambda record: record.hostname}
        template_name = "django_tables2/bootstrap5-responsive.html"
        empty_text = "No host matches these filters."

    def render_rack_position(self, record):
        if record.rack_id is None:
            return "—"
        if record.position is None:
            return record.rack.name
        top = record.position + record.u_height - 1
        units = f"U{record.position}" if top == record.position else f"U{record.position}–{top}"
        return format_html('{} <span class="text-body-secondary">· {}</span>', record.rack.name, units)

    def render_vendor_model(self, record):
        return " ".join(part for part in (record.vendor, record.model) if part) or "—"

    def render_memory_mib(self, record):
        return f"{record.memory_gib:g} GiB"

    def render_tags(self, record):
        # .all() uses the prefetched tags: no query per row.
        return format_html_join(" ", "{}", ((tag_badge(tag),) for tag in record.tags.all()))


class SiteTable(Table):
    name = tables.Column(linkify=True, attrs={"td": {"class": "fw-semibold"}})
    description = tables.Column()
    address = tables.Column()
    rack_count = tables.Column(verbose_name="Racks", attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}})
    host_count = tables.Column(verbose_name="Hosts", attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}})

    class Meta:
        model = Site
        fields = ("name", "slug", "description", "address", "rack_count", "host_count")
        attrs = {"id": "site-table", "class": "table table-sm table-hover align-middle"}
        template_name = "django_tables2/bootstrap5.html"
        empty_text = "No sites yet."


# --- rack elevation --------------------------------------------------------------


@dataclass
class RackSlot:
    """One row of a rack elevation, top to bottom: a free unit or a host spanning units."""

    top: int
    bottom: int
    host: Host | None = None
    highlight: bool = False

    @property
    def height(self):
        return self.top - self.bottom + 1

    @property
    def label(self):
        return f"U{self.top}" if self.top == self.bottom else f"U{self.bottom}–{self.top}"


def rack_elevation(rack, hosts, highlight=None):
    """The slots of a rack from its top unit down to U1, for the given mounted hosts."""
    host_at = {}
    for host in hosts:
        for unit in host.units:
            host_at.setdefault(unit, host)
    slots, unit = [], rack.u_height
    while unit >= 1:
        host = host_at.get(unit)
        if host is None:
            slots.append(RackSlot(unit, unit))
            unit -= 1
            continue
        bottom = max(host.position, 1)
        slots.append(RackSlot(unit, bottom, host, highlight is not None and host.pk == highlight))
        unit = bottom - 1
    return slots
