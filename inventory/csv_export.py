"""CSV export of hosts, and the one canonical text form of every CSV column.

The import compares each row with the host through `host_cells`, so a file that was
exported and imported again changes nothing, and a cell edited in a spreadsheet shows
up as exactly one changed field.
"""

import csv

from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django.utils import timezone

from .filters import HostFilterSet
from .formats import format_disks, format_interfaces
from .models import Host

# The columns of an export, in order. The import accepts any order and any subset
# (hostname is the key), plus the write-only columns below.
COLUMNS = (
    "hostname", "role", "site", "rack", "position", "u_height", "status",
    "serial", "asset_tag", "vendor", "model", "cpu_sockets", "cpu_cores", "memory_mib",
    "disks", "interfaces", "mgmt_address", "bmc_address", "owner", "tags", "notes", "cloud_instance_id",
)  # fmt: skip
# Secrets may be set by an import but never leave the database.
WRITE_ONLY_COLUMNS = ("bmc_password",)
# Exported for reference and accepted back unchanged, but set only by migration runs:
# the import ignores them (as the API does its read-only fields).
READ_ONLY_COLUMNS = ("cloud_instance_id",)
IMPORTABLE_COLUMNS = tuple(column for column in COLUMNS if column not in READ_ONLY_COLUMNS) + WRITE_ONLY_COLUMNS

# A cell starting with one of these is a formula to a spreadsheet ("CSV injection").
# The export quotes it with a leading apostrophe; the import takes the apostrophe off.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Hosts are read in chunks: memory stays flat for any inventory size, and the query
# count is 3 per chunk (hosts, tags, interfaces) whatever the page of hosts holds.
EXPORT_CHUNK_SIZE = 2000


def escape_cell(text):
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def unescape_cell(text):
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_STARTS) else text


def _text(value):
    return "" if value is None else str(value)


def tags_cell(tag_slugs):
    return ", ".join(sorted(tag_slugs))


def interfaces_cell(interfaces):
    """Interfaces (dicts or Interface rows) sorted by name, as one cell."""

    def name(interface):
        return interface["name"] if isinstance(interface, dict) else interface.name

    return format_interfaces(sorted(interfaces, key=name))


def host_cells(host, tag_slugs, interfaces):
    """The host as CSV cells: {column: text}. Works for saved and unsaved hosts, so the
    import can compare a host with what a row would make of it."""
    return {
        "hostname": host.hostname,
        "role": host.role.slug if host.role_id else "",
        "site": host.site.slug if host.site_id else "",
        "rack": host.rack.name if host.rack_id else "",
        "position": _text(host.position),
        "u_height": _text(host.u_height),
        "status": host.status,
        "serial": host.serial,
        "asset_tag": _text(host.asset_tag),
        "vendor": host.vendor,
        "model": host.model,
        "cpu_sockets": _text(host.cpu_sockets),
        "cpu_cores": _text(host.cpu_cores),
        "memory_mib": _text(host.memory_mib),
        "disks": format_disks(host.disks),
        "interfaces": interfaces_cell(interfaces),
        "mgmt_address": _text(host.mgmt_address),
        "bmc_address": host.bmc_address,
        "owner": host.owner,
        "tags": tags_cell(tag_slugs),
        "notes": host.notes,
        "cloud_instance_id": host.cloud_instance_id,
    }


def saved_host_cells(host):
    """Cells of a host loaded through `export_queryset` (tags and interfaces prefetched)."""
    return host_cells(host, [tag.slug for tag in host.tags.all()], list(host.interfaces.all()))


def export_queryset(queryset=None):
    queryset = Host.objects.all() if queryset is None else queryset
    return (
        queryset.select_related("role", "site", "rack")
        .prefetch_related("tags", "interfaces")
        .order_by("hostname")
    )


def filtered_hosts(params):
    """Hosts matching the host list's filters (same query parameters as the list).
    Raises ValidationError with the filter form's errors when a parameter is invalid,
    rather than silently exporting everything."""
    filterset = HostFilterSet(params, queryset=Host.objects.all())
    if not filterset.is_valid():
        raise ValidationError({field: list(errors) for field, errors in filterset.errors.items()})
    return filterset.qs


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value):
        return value


def csv_lines(hosts):
    """The export as an iterator of CSV lines (header first)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for host in hosts:
        cells = saved_host_cells(host)
        yield writer.writerow([escape_cell(cells[column]) for column in COLUMNS])


def template_lines():
    """An empty import file: just the header of the columns an import sets, the
    write-only ones too."""
    writer = csv.writer(_Echo())
    yield writer.writerow(IMPORTABLE_COLUMNS)


def export_filename(prefix="hosts"):
    return f"{prefix}-{timezone.localtime():%Y%m%d-%H%M}.csv"


def csv_response(lines, filename):
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def hosts_csv_response(queryset):
    """Stream the hosts of `queryset` as a CSV download."""
    hosts = export_queryset(queryset).iterator(chunk_size=EXPORT_CHUNK_SIZE)
    return csv_response(csv_lines(hosts), export_filename())
