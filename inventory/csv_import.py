"""Bulk import of hosts from CSV: read the file, check every row, then write all of it
or nothing.

    read_csv_bytes / read_csv_text  -> text (size and encoding checked) or CSVFileError
    parse_csv(text)                 -> ParsedFile (header checked) or CSVFileError
    plan_import(parsed)             -> ImportPlan: each row is create / update / unchanged
                                       (with the changed fields, before -> after) or error
                                       (with per-column messages). Writes nothing.
    commit_import(text, user)       -> summary; one transaction with the hosts locked,
                                       checked again because data may have changed
    run_import(text, user, recorder)   the Job body: check with live progress, then commit

Rows are matched to hosts by hostname. A column missing from the file leaves that field
alone; an empty cell clears the field, except for fields that cannot be empty (site,
status, u_height, cpu_sockets, cpu_cores, memory_mib) where it keeps the current value
(or the default for a new host), and bmc_password, where it keeps the stored secret.
Unknown tags are created: importing needs the operator role, and the preview lists the
tags it will create.
"""

import csv
import io
import re
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from core.audit import acting_as
from core.crypto import decrypt, encrypt

from .csv_export import COLUMNS, READ_ONLY_COLUMNS, WRITE_ONLY_COLUMNS, host_cells, saved_host_cells, unescape_cell
from .formats import parse_disks, parse_interfaces
from .models import Host, HostStatus, Interface, JournalEntry, Rack, Role, Site, Tag
from .services import add_journal_entry

IMPORT_COLUMNS = COLUMNS + WRITE_ONLY_COLUMNS
MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5_000  # the preview checks every row while the browser waits; bigger files go in parts
CHECK_CHUNK_ROWS = 100  # progress is reported after each chunk of checked rows
ROW = "row"  # the "column" of errors about a whole row

CREATE, UPDATE, UNCHANGED, ERROR = "create", "update", "unchanged", "error"
HIDDEN_SECRET = "••••••"

# Columns whose empty cell means "leave as is" (they cannot be empty on a host).
_KEEP_WHEN_EMPTY = {"site", "status", "u_height", "cpu_sockets", "cpu_cores", "memory_mib", "bmc_password"}
_TAG_SEPARATOR = re.compile(r"[,;]")
_WHOLE_NUMBER = forms.IntegerField()  # its error reads "Enter a whole number."
_CATALOGUE_FIELDS = {"role", "site", "rack"}


class CSVFileError(Exception):
    """The file as a whole cannot be imported (size, encoding, header)."""


class ImportRejected(Exception):
    """Some rows have errors, so nothing was written."""

    def __init__(self, plan):
        self.plan = plan
        bad = plan.counts[ERROR]
        super().__init__(f"{bad} of {len(plan.rows)} rows have errors; nothing was written.")


# --- reading the file ---------------------------------------------------------------


def _check_size(size):
    if size > MAX_CSV_BYTES:
        raise CSVFileError(
            f"The file is {size / 1024 / 1024:.1f} MB; an import takes at most "
            f"{MAX_CSV_BYTES // 1024 // 1024} MB. Split it into several files."
        )


def read_csv_bytes(data):
    """Decode an uploaded file: UTF-8, with or without a byte order mark."""
    _check_size(len(data))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CSVFileError(
            f"The file is not UTF-8 text (byte {exc.start + 1} is not valid UTF-8). "
            'Save it as "CSV UTF-8" in your spreadsheet and upload it again.'
        ) from None


def read_csv_text(text):
    _check_size(len(text.encode("utf-8", errors="replace")))
    return text.removeprefix("\ufeff")


def read_uploaded_csv(uploaded_file):
    _check_size(uploaded_file.size)  # before reading it into memory
    return read_csv_bytes(uploaded_file.read())


def seal_csv(text):
    """The file encrypted for keeping in a Job's params or a session: it may hold BMC
    passwords, and job params are shown to every viewer."""
    return encrypt(text)


def unseal_csv(sealed):
    return decrypt(sealed)


@dataclass
class ParsedFile:
    columns: list  # the header's known column names, in file order
    records: list  # (row number as a spreadsheet shows it, {column: cell}) per data row
    bad_rows: dict  # row number -> why the row cannot be read

    @property
    def hostnames(self):
        return {cells.get("hostname", "").lower() for _, cells in self.records} - {""}


def _delimiter(header_line):
    """Spreadsheets in many locales save CSV with semicolons; the header tells which."""
    counts = {delimiter: header_line.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _read_header(cells):
    names = [cell.strip().lower().replace(" ", "_") for cell in cells]
    unknown = [name for name in names if name and name not in IMPORT_COLUMNS]
    if unknown:
        raise CSVFileError(
            f"Unknown column{'s' if len(unknown) > 1 else ''} in the header: {', '.join(unknown)}. "
            f"The columns are: {', '.join(IMPORT_COLUMNS)}."
        )
    twice = sorted({name for name in names if name and names.count(name) > 1})
    if twice:
        raise CSVFileError(f"The header names {', '.join(twice)} more than once.")
    if "hostname" not in names:
        raise CSVFileError("The header has no hostname column; the hostname says which host a row is about.")
    return [name or None for name in names]  # None: a column without a name, ignored if empty


def parse_csv(text):
    if "\x00" in text:  # no database takes it, and no CSV has it
        raise CSVFileError("The file holds NUL characters: it is not a CSV text file (a spreadsheet's own format?).")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text.split("\n", 1)[0]))
    try:
        lines = list(reader)
    except csv.Error as exc:  # e.g. a cell over the csv module's 128 KiB field limit
        raise CSVFileError(f"The file is not readable CSV near line {reader.line_num}: {exc}.") from None
    if not lines or not any(cell.strip() for cell in lines[0]):
        raise CSVFileError("The file is empty: the first row must name the columns, e.g. hostname,site,role.")
    columns = _read_header(lines[0])
    records, bad_rows = [], {}
    for number, cells in enumerate(lines[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue  # blank line
        extra = cells[len(columns):]
        if len(cells) < len(columns) or any(cell.strip() for cell in extra):
            bad_rows[number] = f"This row has {len(cells)} cells but the header names {len(columns)} columns."
            continue
        row = {}
        for column, cell in zip(columns, cells, strict=False):  # trailing blank cells are allowed
            if column is None:
                if cell.strip():
                    raise CSVFileError(f"Row {number} has a value in a column the header does not name.")
                continue
            row[column] = unescape_cell(cell.strip())
        records.append((number, row))
    if len(records) + len(bad_rows) > MAX_ROWS:
        raise CSVFileError(f"The file has {len(records)} hosts; an import takes at most {MAX_ROWS}. Split it.")
    if not records and not bad_rows:
        raise CSVFileError("The file has a header but no hosts.")
    return ParsedFile([name for name in columns if name], records, bad_rows)


# --- the plan -------------------------------------------------------------------------


@dataclass
class Change:
    column: str
    before: str
    after: str


@dataclass
class RowPlan:
    number: int
    hostname: str
    cells: dict
    action: str = ""
    errors: dict = field(default_factory=dict)  # column -> [message]
    changes: list = field(default_factory=list)
    host: Host | None = None  # the host as the row leaves it (not saved)
    creating: bool = False
    old_status: str | None = None
    before: dict = field(default_factory=dict)  # the host's cells before the import
    old_password: str = ""
    moved: bool = False  # new, or its rack, position or height changes
    tag_slugs: list | None = None  # None: the file says nothing about tags
    interfaces: list | None = None  # None: the file says nothing about interfaces
    bmc_password: str | None = None  # None: keep the stored one

    def add_errors(self, column, messages):
        self.errors.setdefault(column, []).extend(messages)

    @property
    def error_list(self):
        return [
            {"row": self.number, "column": column, "message": message}
            for column, messages in self.errors.items()
            for message in messages
        ]


@dataclass
class ImportPlan:
    columns: list
    rows: list
    new_tags: dict  # slug -> name of tags the import will create

    @property
    def is_valid(self):
        return not any(row.errors for row in self.rows)

    @property
    def counts(self):
        counts = {CREATE: 0, UPDATE: 0, UNCHANGED: 0, ERROR: 0}
        for row in self.rows:
            counts[row.action] += 1
        return counts

    @property
    def errors(self):
        return [error for row in self.rows for error in row.error_list]


def error_line(error):
    """One error as a sysadmin reads it: "row 7, memory_mib: Enter a whole number."."""
    where = f"row {error['row']}" if error["column"] == ROW else f"row {error['row']}, {error['column']}"
    return f"{where}: {error['message']}"


class _Index:
    """Find a role, site or tag by slug or by name, ignoring case."""

    def __init__(self, objects, *attributes):
        self.by_key = {}
        for obj in objects:
            for attribute in attributes:
                key = getattr(obj, attribute)
                self.by_key.setdefault(key, obj)
                self.by_key.setdefault(key.casefold(), obj)

    def get(self, value):
        return self.by_key.get(value) or self.by_key.get(value.casefold())

    def known(self):
        return sorted({obj.slug for obj in self.by_key.values()})


class _Catalogue:
    """Roles, sites, racks and tags, loaded once per import (they are small tables)."""

    def __init__(self):
        self.roles = _Index(Role.objects.select_related("naming_scheme"), "slug", "name")
        self.sites = _Index(Site.objects.all(), "slug", "name")
        self.tags = _Index(Tag.objects.all(), "slug", "name")
        self.racks = {}
        for rack in Rack.objects.select_related("site"):
            self.racks.setdefault((rack.site_id, rack.name), rack)
            self.racks.setdefault((rack.site_id, rack.name.casefold()), rack)
        self.new_tags = {}

    def role(self, value):
        return self._find(self.roles, value, "role")

    def site(self, value):
        return self._find(self.sites, value, "site")

    def _find(self, index, value, what):
        found = index.get(value)
        if found is None:
            known = ", ".join(index.known()) or "none yet"
            raise ValidationError(f"There is no {what} {value!r}. Known {what}s: {known}.")
        return found

    def rack(self, site, name):
        rack = self.racks.get((site.pk, name)) or self.racks.get((site.pk, name.casefold()))
        if rack is None:
            raise ValidationError(f"Site {site.slug} has no rack named {name!r}.")
        return rack

    def tag_slugs(self, cell):
        slugs = []
        for token in filter(None, (token.strip() for token in _TAG_SEPARATOR.split(cell))):
            tag = self.tags.get(token) or self.tags.get(slugify(token))
            slug = tag.slug if tag else self._new_tag(token)
            if slug not in slugs:
                slugs.append(slug)
        return slugs

    def _new_tag(self, name):
        slug = slugify(name)
        if not slug:
            raise ValidationError(f"{name!r} cannot be a tag: a tag needs letters or digits.")
        if slug in self.new_tags:
            return slug
        try:
            Tag(name=name, slug=slug).full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            raise ValidationError(f"{name!r} cannot be a tag: {' '.join(exc.messages)}") from None
        self.new_tags.setdefault(slug, name)
        return slug


def _status(cell):
    """A status by value or label, any case. Checked here rather than by full_clean so a
    bad value is one clear error, not also a bogus lifecycle transition."""
    for status in HostStatus:
        if cell.casefold() in (status.value, status.label.casefold()):
            return status.value
    raise ValidationError(f"{cell!r} is not a status. Statuses: {', '.join(HostStatus.values)}.")


def _whole_number(cell):
    return _WHOLE_NUMBER.clean(cell)


def _checked_interfaces(cell):
    """Parse the interfaces cell and run each interface through model validation, which
    also normalises addresses (e.g. IPv6) so the comparison with stored rows is fair."""
    interfaces, errors = parse_interfaces(cell), []
    for data in interfaces:
        interface = Interface(**data)
        try:
            interface.full_clean(exclude=["host"], validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            errors += [f"Interface {data['name']}: {message}" for message in exc.messages]
            continue
        data["mac_address"], data["ip_address"] = interface.mac_address.lower(), interface.ip_address
    if errors:
        raise ValidationError(errors)
    return interfaces


def _read_cell(row, column, cell, catalogue):
    """Put one cell onto row.host (or the row's tags, interfaces, secret). Raises
    ValidationError for a cell that cannot be read."""
    host = row.host
    if not cell and column in _KEEP_WHEN_EMPTY:
        return
    if column == "role":
        host.role = catalogue.role(cell) if cell else None
    elif column == "site":
        host.site = catalogue.site(cell)
    elif column == "rack":
        if not cell:
            host.rack = None
        elif "site" in row.errors:
            return  # the site's error says it all
        elif not host.site_id:
            raise ValidationError("Give the site too: rack names are only unique within a site.")
        else:
            host.rack = catalogue.rack(host.site, cell)
    elif column == "position":
        host.position = _whole_number(cell) if cell else None
    elif column in ("u_height", "cpu_sockets", "cpu_cores", "memory_mib"):
        setattr(host, column, _whole_number(cell))
    elif column == "status":
        host.status = _status(cell)
    elif column in ("asset_tag", "mgmt_address"):
        setattr(host, column, cell or None)
    elif column == "disks":
        host.disks = parse_disks(cell)
    elif column == "interfaces":
        row.interfaces = _checked_interfaces(cell)
    elif column == "tags":
        row.tag_slugs = catalogue.tag_slugs(cell)
    elif column == "bmc_password":
        row.bmc_password = host.bmc_password = cell
    elif column in READ_ONLY_COLUMNS:
        return
    elif column != "hostname":
        setattr(host, column, cell)  # plain text: serial, vendor, model, bmc_address, owner, notes


def _read_row(row, existing, catalogue):
    """Put the row's cells onto its host (a new, unsaved one or the existing one)."""
    row.creating = existing is None
    row.host = host = Host(hostname=row.hostname) if row.creating else existing
    placement_before = None if row.creating else (host.rack_id, host.position, host.u_height)
    row.old_status = None if row.creating else existing.status
    for column in IMPORT_COLUMNS:  # this order reads the site before the rack
        if column in row.cells:
            try:
                _read_cell(row, column, row.cells[column], catalogue)
            except ValidationError as exc:
                row.add_errors(column, exc.messages)
    if row.creating and not host.site_id and "site" not in row.errors:
        row.add_errors("site", ["A new host needs a site (its slug or name)."])
    if row.errors.keys() & {"site", "rack"}:
        host.position = None  # "a position needs a rack" would only repeat the error
    row.moved = (host.rack_id, host.position, host.u_height) != placement_before


def _validate_row(row):
    """Full model validation: rack placement, naming scheme, lifecycle, uniques."""
    try:
        # Role, site and rack come from the catalogue, read from the database for this
        # very check: re-querying each one per row would triple the check's queries.
        row.host.full_clean(exclude=set(row.errors) | _CATALOGUE_FIELDS)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            row.add_errors(ROW if name == NON_FIELD_ERRORS else name, messages)


@contextmanager
def _lifted_from_racks(host_ids):
    """Inside the block the hosts the file moves hold no rack position in the database,
    so the model's overlap check compares each row with where hosts will be, not where
    they were (a file may move A out of U10 and B into it). Overlaps among the moved and
    new hosts are checked afterwards, on the rows. Always rolled back."""
    with transaction.atomic():
        Host.objects.filter(pk__in=host_ids).update(position=None)
        try:
            yield
        finally:
            transaction.set_rollback(True)


def _check_overlaps_within_file(rows):
    """Overlaps among new and moved hosts (the model checked them against the others)."""
    by_rack = defaultdict(list)
    for row in rows:
        if row.moved and not row.errors and row.host.rack_id and row.host.position is not None:
            by_rack[row.host.rack_id].append(row)
    for rack_rows in by_rack.values():
        rack_rows.sort(key=lambda row: (row.host.position, row.number))
        highest = None  # the row reaching highest among those starting lower
        for row in rack_rows:
            start, top = row.host.position, row.host.position + row.host.u_height - 1
            if highest is not None:
                other = highest.host
                other_top = other.position + other.u_height - 1
                if other_top >= start:
                    row.add_errors("position", [
                        f"Units {start}-{top} overlap {highest.hostname} (units {other.position}-{other_top}), "
                        f"row {highest.number} of this file."
                    ])
                    continue
            if highest is None or top > highest.host.position + highest.host.u_height - 1:
                highest = row


def _check_unique_asset_tags_within_file(rows):
    first = {}
    for row in rows:
        tag = row.host.asset_tag if row.host else None
        if not tag:
            continue
        if tag in first:
            row.add_errors("asset_tag", [f"Asset tag {tag} is also on row {first[tag].number}."])
        else:
            first[tag] = row


def _describe(row):
    """Set the row's action and its changes (in CSV cell form, before -> after)."""
    if row.errors:
        row.action = ERROR
        return
    host = row.host
    tag_slugs, interfaces = row.tag_slugs, row.interfaces
    if tag_slugs is None:
        tag_slugs = [] if row.creating else [tag.slug for tag in host.tags.all()]
    if interfaces is None:
        interfaces = [] if row.creating else list(host.interfaces.all())
    before = row.before
    after = host_cells(host, tag_slugs, interfaces)
    row.changes = [
        Change(column, before.get(column, ""), after[column])
        for column in COLUMNS
        if after[column] != before.get(column, "")
    ]
    if row.bmc_password and row.bmc_password != row.old_password:
        row.changes.append(Change("bmc_password", HIDDEN_SECRET if row.old_password else "", f"{HIDDEN_SECRET} (new)"))
    row.action = CREATE if row.creating else (UPDATE if row.changes else UNCHANGED)


def _existing_hosts(hostnames):
    hosts = (
        Host.objects.filter(hostname__in=hostnames)
        .select_related("role__naming_scheme", "site", "rack__site")
        .prefetch_related("tags", "interfaces")
    )
    return {host.hostname: host for host in hosts}


def plan_import(parsed, on_progress=None):
    """Check every row of the file and say what importing it would do. Writes nothing.
    `on_progress(done, total)` is called after each chunk of rows."""
    catalogue = _Catalogue()
    existing = _existing_hosts(parsed.hostnames)
    rows, seen = [], {}
    for number, message in parsed.bad_rows.items():
        rows.append(RowPlan(number, "", {}, errors={ROW: [message]}))
    to_check = []
    for number, cells in parsed.records:
        row = RowPlan(number, cells.get("hostname", "").lower(), cells)
        rows.append(row)
        if not row.hostname:
            row.add_errors("hostname", ["This field is required."])
        elif row.hostname in seen:
            row.add_errors("hostname", [f"{row.hostname} is also on row {seen[row.hostname].number}."])
        else:
            seen[row.hostname] = row
            to_check.append(row)
    for host in existing.values():  # before the rows change them
        row = seen[host.hostname]
        row.before, row.old_password = saved_host_cells(host), host.bmc_password
    for row in to_check:
        _read_row(row, existing.get(row.hostname), catalogue)
    lifted = [row.host.pk for row in to_check if row.moved and not row.creating]
    for start in range(0, len(to_check), CHECK_CHUNK_ROWS):
        chunk = to_check[start : start + CHECK_CHUNK_ROWS]
        with _lifted_from_racks(lifted):
            for row in chunk:
                _validate_row(row)
        if on_progress:
            on_progress(start + len(chunk), len(to_check))
    _check_overlaps_within_file(to_check)
    _check_unique_asset_tags_within_file(to_check)
    for row in rows:
        _describe(row)
    rows.sort(key=lambda row: row.number)
    used_tags = {slug for row in to_check for slug in row.tag_slugs or []}
    new_tags = {slug: name for slug, name in catalogue.new_tags.items() if slug in used_tags}
    return ImportPlan(parsed.columns, rows, new_tags)


def check_import(text, on_progress=None):
    return plan_import(parse_csv(text), on_progress)


# --- writing --------------------------------------------------------------------------


def _sync_interfaces(host, wanted, creating):
    current = {} if creating else {interface.name: interface for interface in host.interfaces.all()}
    for data in wanted:
        interface = current.pop(data["name"], None)
        if interface is None:
            Interface.objects.create(host=host, **data)
        elif (interface.mac_address, interface.ip_address) != (data["mac_address"], data["ip_address"]):
            interface.mac_address, interface.ip_address = data["mac_address"], data["ip_address"]
            interface.save()
    for interface in current.values():
        interface.delete()


def _write_row(row, tags_by_slug, user):
    host = row.host
    host.save()
    if row.tag_slugs is not None:
        host.tags.set([tags_by_slug[slug] for slug in row.tag_slugs])
    if row.interfaces is not None:
        _sync_interfaces(host, row.interfaces, row.creating)
    if row.old_status and row.old_status != host.status:
        old, new = HostStatus(row.old_status).label, HostStatus(host.status).label
        add_journal_entry(host, f"Status {old} → {new} (CSV import)", author=user, kind=JournalEntry.Kind.STATUS)


def _apply(plan, user):
    with acting_as(user):
        for slug, name in plan.new_tags.items():
            Tag.objects.create(slug=slug, name=name)
        wanted = {slug for row in plan.rows for slug in row.tag_slugs or []}
        tags_by_slug = Tag.objects.in_bulk(wanted, field_name="slug")
        for row in plan.rows:
            if row.action in (CREATE, UPDATE):
                _write_row(row, tags_by_slug, user)
    return summarise(plan)


def summarise(plan, listed=200):
    counts = plan.counts
    names = {CREATE: [], UPDATE: []}
    for row in plan.rows:
        if row.action in names and len(names[row.action]) < listed:
            names[row.action].append(row.hostname)
    return {
        "rows": len(plan.rows),
        "created": counts[CREATE],
        "updated": counts[UPDATE],
        "unchanged": counts[UNCHANGED],
        "tags_created": sorted(plan.new_tags.values()),
        "created_hosts": names[CREATE],
        "updated_hosts": names[UPDATE],
    }


def commit_import(text, user):
    """Check the file again with its hosts locked, then write every row in one
    transaction. Raises ImportRejected (nothing written) if any row has an error."""
    parsed = parse_csv(text)
    try:
        with transaction.atomic():
            locked = Host.objects.select_for_update().filter(hostname__in=parsed.hostnames).order_by("pk")
            list(locked.values_list("pk", flat=True))
            plan = plan_import(parsed)
            if not plan.is_valid:
                raise ImportRejected(plan)
            return _apply(plan, user)
    except IntegrityError:
        # Another writer took a hostname or asset tag between the check and the write.
        raise CSVFileError(
            "A hostname or asset tag in the file was taken by another change meanwhile; "
            "nothing was written. Run the import again to see which row."
        ) from None


def run_import(text, user, recorder, shown_errors=100):
    """The import Job: a first check outside any transaction (live progress, fails fast
    without locking anything), then `commit_import`. The Job row is not touched inside
    the write transaction, so progress polling and cancel requests never wait on it."""
    parsed = parse_csv(text)
    recorder.log(f"Checking {len(parsed.records) + len(parsed.bad_rows)} rows")

    def checked(done, total):
        recorder.progress(50 * done // total, f"Checked {done} of {total} rows")

    try:
        plan = plan_import(parsed, on_progress=checked)
        if not plan.is_valid:
            raise ImportRejected(plan)
        recorder.progress(50, "Writing every row in one transaction")
        summary = commit_import(text, user)
    except ImportRejected as exc:
        errors = exc.plan.errors
        for error in errors[:shown_errors]:
            recorder.log(error_line(error))
        if len(errors) > shown_errors:
            recorder.log(f"... and {len(errors) - shown_errors} more errors")
        raise
    recorder.log(
        f"Created {summary['created']}, updated {summary['updated']}, "
        f"unchanged {summary['unchanged']} hosts; new tags: {', '.join(summary['tags_created']) or 'none'}"
    )
    return summary
