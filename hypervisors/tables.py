"""Tables and presentation helpers of the hypervisor console: capacity bars, the
hypervisor list, VM tables."""

from dataclasses import dataclass

import django_tables2 as tables
from django.template.loader import render_to_string
from django.utils.html import format_html, format_html_join

from core.tables import Table

from .models import VirtualMachine

WARN_PERCENT, FULL_PERCENT = 80, 100

def gib(mib):
    """MiB as a short GiB figure: 1536 -> "1.5", 4096 -> "4"."""
    return f"{mib / 1024:.1f}".removesuffix(".0")


def ratio_text(ratio):
    """An overcommit ratio without trailing zeros: 4.00 -> "4", 1.50 -> "1.5"."""
    return f"{float(ratio):g}"


def memory_text(mib):
    """A VM's memory as people say it: "96 MiB", "4 GiB", "1.5 GiB"."""
    return f"{mib} MiB" if mib < 1024 else f"{gib(mib)} GiB"


@dataclass
class CapacityBar:
    """Allocated against capacity (capacity already under the overcommit ratio)."""

    label: str
    used: int
    capacity: int
    unit: str  # "vCPU" or "MiB"
    detail: str = ""  # e.g. how the capacity was reached (physical x ratio)
    physical: int = 0  # what the machines have: allocation beyond it is overcommit

    @property
    def physical_percent(self):
        """Where the physical line sits on the bar (the capacity is its full width)."""
        return min(round(100 * self.physical / self.capacity), 100) if self.capacity and self.physical else 0

    @property
    def overcommit_text(self):
        """Allocated against physical, e.g. "1.5× physical"."""
        return f"{self.used / self.physical:.2f}".rstrip("0").rstrip(".") + "× physical" if self.physical else ""

    @property
    def percent(self):
        if not self.capacity:
            return 100 if self.used else 0
        return round(100 * self.used / self.capacity)

    @property
    def width(self):
        return min(self.percent, 100)

    @property
    def colour(self):
        if self.percent > FULL_PERCENT:
            return "danger"
        if self.percent > WARN_PERCENT:
            return "warning"
        return "success"

    @property
    def text(self):
        if self.unit == "MiB":
            return f"{gib(self.used)} / {gib(self.capacity)} GiB"
        return f"{self.used} / {self.capacity} vCPU"

    @property
    def free_text(self):
        free = self.capacity - self.used
        if self.unit == "MiB":
            return f"{gib(free)} GiB free" if free >= 0 else f"{gib(-free)} GiB over"
        return f"{free} vCPU free" if free >= 0 else f"{-free} vCPU over"


def hypervisor_bars(usage):
    """(vCPU bar, memory bar) of a capacity.Usage row."""
    hv = usage.hypervisor
    cpus, memory = hv.physical_cpus, hv.physical_memory_mib
    return (
        CapacityBar("vCPU", usage.vcpus_used, hv.vcpu_capacity, "vCPU",
                    f"{cpus} CPUs × {ratio_text(hv.cpu_overcommit)} overcommit", physical=cpus),
        CapacityBar("Memory", usage.memory_used_mib, hv.memory_capacity_mib, "MiB",
                    f"{gib(memory)} GiB × {ratio_text(hv.memory_overcommit)} overcommit", physical=memory),
    )


def site_bars(totals):
    """[(site name, hypervisor count, vCPU bar, memory bar)] from capacity.site_usage()."""
    return [
        (site, t["hypervisors"],
         CapacityBar("vCPU", t["vcpus_used"], t["vcpus"], "vCPU", f"from {t['cpus']} physical CPUs",
                     physical=t["cpus"]),
         CapacityBar("Memory", t["memory_used_mib"], t["memory_mib"], "MiB",
                     f"from {gib(t['physical_memory_mib'])} GiB physical",
                     physical=t["physical_memory_mib"]))
        for site, t in sorted(totals.items())
    ]


def render_bar(bar, compact=True):
    return render_to_string("hypervisors/_capacity_bar.html", {"bar": bar, "compact": compact})


CONNECTION_BADGE = '{% include "hypervisors/_connection_badge.html" with hypervisor=record.hypervisor %}'


class HypervisorTable(Table):
    """Rows are capacity.Usage objects (one annotated query for the whole list)."""

    name = tables.Column(accessor="hypervisor__host__hostname", verbose_name="Hypervisor",
                         linkify=lambda record: record.hypervisor.get_absolute_url(),
                         attrs={"td": {"class": "fw-semibold"}})
    site = tables.Column(accessor="hypervisor__host__site__name", verbose_name="Site")
    status = tables.TemplateColumn("{% load console %}{% status_badge record.hypervisor.host %}",
                                   accessor="hypervisor__host__status", verbose_name="Host status")
    connection = tables.TemplateColumn(CONNECTION_BADGE, accessor="hypervisor__connection")
    vm_count = tables.Column(verbose_name="VMs", attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}})
    cpu = tables.Column(accessor="vcpu_percent", verbose_name="vCPU allocated", attrs={"td": {"class": "bar-cell"}})
    memory = tables.Column(accessor="memory_percent", verbose_name="Memory allocated",
                           attrs={"td": {"class": "bar-cell"}})
    last_seen = tables.DateTimeColumn(accessor="hypervisor__last_seen", format="Y-m-d H:i", verbose_name="Last seen")

    class Meta:
        attrs = {"id": "hypervisor-table", "class": "table table-sm table-hover align-middle mb-0"}
        row_attrs = {
            "data-hypervisor": lambda record: record.hypervisor.name,
            "data-connection": lambda record: record.hypervisor.connection,
        }
        template_name = "django_tables2/bootstrap5-responsive.html"
        empty_text = "No hypervisors registered yet."
        order_by = ("name",)

    def render_cpu(self, record):
        return render_bar(hypervisor_bars(record)[0])

    def render_memory(self, record):
        return render_bar(hypervisor_bars(record)[1])


VM_NAME = (
    '<a class="fw-semibold" href="{{ record.get_absolute_url }}">{{ record.name }}</a>'
    '{% if record.inventory_host_id %}<div class="small text-body-secondary">{{ record.inventory_host.hostname }}</div>'
    "{% endif %}"
)


class VirtualMachineTable(Table):
    name = tables.TemplateColumn(VM_NAME, order_by=("name",))
    state = tables.TemplateColumn('{% include "hypervisors/_vm_state.html" with vm=record %}', order_by=("state",))
    hypervisor = tables.Column(accessor="hypervisor__host__hostname", verbose_name="Hypervisor",
                               linkify=lambda record: record.hypervisor and record.hypervisor.get_absolute_url(),
                               order_by=("hypervisor__host__hostname",))
    vcpus = tables.Column(verbose_name="vCPU", attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}})
    memory_mib = tables.Column(verbose_name="Memory", attrs={"td": {"class": "text-end text-nowrap"},
                                                             "th": {"class": "text-end"}})
    ha_enabled = tables.BooleanColumn(verbose_name="HA", yesno="✔,", attrs={"td": {"class": "text-center text-success"},
                                                                          "th": {"class": "text-center"}})
    anti_affinity_group = tables.Column(verbose_name="Anti-affinity", attrs={"td": {"class": "font-monospace small"}})
    role = tables.Column(accessor="role__name", verbose_name="Role", order_by=("role__name",))
    owner = tables.Column()
    tags = tables.Column(empty_values=(), orderable=False)

    class Meta:
        model = VirtualMachine
        fields = ()
        sequence = ("name", "state", "hypervisor", "vcpus", "memory_mib", "ha_enabled", "anti_affinity_group",
                    "role", "owner", "tags")
        attrs = {"id": "vm-table", "class": "table table-sm table-hover align-middle mb-0"}
        row_attrs = {
            "data-vm": lambda record: record.name,
            "data-state": lambda record: record.state,
            "class": lambda record: "vm-stale" if record.is_stale else "",
        }
        template_name = "django_tables2/bootstrap5-responsive.html"
        empty_text = "No VM matches."

    def render_memory_mib(self, record):
        return memory_text(record.memory_mib)

    def render_tags(self, record):
        # .all() uses the prefetched tags: no query per row.
        return format_html_join(
            " ", '<span class="badge tag-badge" style="--tag-colour: {}">{}</span>',
            ((tag.color, tag.name) for tag in record.tags.all()),
        )

    def render_anti_affinity_group(self, value):
        return format_html('<span class="badge text-bg-light border">{}</span>', value)


class HypervisorVMTable(VirtualMachineTable):
    """The VMs of one hypervisor: its own column is redundant there."""

    class Meta(VirtualMachineTable.Meta):
        exclude = ("hypervisor",)
        empty_text = "No VMs on this hypervisor."
