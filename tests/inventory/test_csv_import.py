"""The CSV import service: reading the file, checking every row, all-or-nothing writes."""

import csv
import io
from types import SimpleNamespace

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType

from inventory import csv_import
from inventory.csv_import import (
    CREATE,
    ERROR,
    UNCHANGED,
    UPDATE,
    CSVFileError,
    ImportRejected,
    check_import,
    commit_import,
    error_line,
    parse_csv,
    read_csv_bytes,
)
from inventory.models import Host, HostStatus, Interface, JournalEntry, NamingScheme, Rack, Role, Tag

FULL_HEADER = [
    "hostname", "role", "site", "rack", "position", "u_height", "status", "serial", "asset_tag", "vendor",
    "model", "cpu_sockets", "cpu_cores", "memory_mib", "disks", "interfaces", "mgmt_address", "bmc_address",
    "owner", "tags", "notes",
]  # fmt: skip


def make_csv(header, *rows, delimiter=","):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def row_of(plan, number):
    return next(row for row in plan.rows if row.number == number)


def error_texts(plan):
    return [error_line(error) for error in plan.errors]


@pytest.fixture
def estate(site, rack, app_role):
    comics = NamingScheme.objects.create(name="Comic characters", names=["batman", "robin", "joker"])
    db_role = Role.objects.create(name="Database server", slug="db", naming_scheme=comics, strict_naming=True)
    prod = Tag.objects.create(name="Production", slug="prod")
    return SimpleNamespace(site=site, rack=rack, app=app_role, db=db_role, prod=prod)


# --- the file as a whole ---------------------------------------------------------------


def test_unknown_columns_are_named_in_the_error(estate):
    with pytest.raises(CSVFileError, match=r"Unknown columns in the header: colour, flavour\. The columns are: hostname"):
        parse_csv(make_csv(["hostname", "colour", "flavour"], ["luna", "red", "salty"]))


def test_a_header_without_hostname_is_refused(estate):
    with pytest.raises(CSVFileError, match="no hostname column"):
        parse_csv(make_csv(["site", "role"], ["ams1", "app"]))


def test_a_column_named_twice_is_refused(estate):
    with pytest.raises(CSVFileError, match="names site more than once"):
        parse_csv(make_csv(["hostname", "site", "Site"], ["luna", "ams1", "ams1"]))


@pytest.mark.parametrize("text", ["", "\n\n", "hostname,site\n", "hostname,site\n,\n"])
def test_empty_files_are_refused(text):
    with pytest.raises(CSVFileError):
        parse_csv(text)


def test_utf8_with_and_without_byte_order_mark_is_read():
    text = make_csv(["hostname", "notes"], ["luna", "Rechenzentrum Zürich"])
    for data in (text.encode(), b"\xef\xbb\xbf" + text.encode()):
        parsed = parse_csv(read_csv_bytes(data))
        assert parsed.columns == ["hostname", "notes"]
        assert parsed.records == [(2, {"hostname": "luna", "notes": "Rechenzentrum Zürich"})]


def test_a_file_that_is_not_utf8_gets_a_clear_error():
    with pytest.raises(CSVFileError, match='not UTF-8 text .*Save it as "CSV UTF-8"'):
        read_csv_bytes(make_csv(["hostname", "notes"], ["luna", "Zürich"]).encode("latin-1"))


def test_files_over_the_size_limit_are_refused(monkeypatch):
    monkeypatch.setattr(csv_import, "MAX_CSV_BYTES", 100)
    with pytest.raises(CSVFileError, match="at most 0 MB|Split it"):
        read_csv_bytes(b"hostname\n" + b"a" * 100)
    read_csv_bytes(b"hostname\n" + b"a" * 50)  # under the limit


def test_files_with_too_many_rows_are_refused(monkeypatch):
    monkeypatch.setattr(csv_import, "MAX_ROWS", 2)
    with pytest.raises(CSVFileError, match="at most 2"):
        parse_csv(make_csv(["hostname"], ["a"], ["b"], ["c"]))


def test_semicolon_separated_files_from_spreadsheets_are_understood(estate):
    plan = check_import(make_csv(["hostname", "site", "tags"], ["io", "ams1", "prod,pci"], delimiter=";"))
    assert plan.is_valid, error_texts(plan)
    assert row_of(plan, 2).tag_slugs == ["prod", "pci"]


def test_a_row_with_the_wrong_number_of_cells_is_a_row_error(estate):
    text = "hostname,site\nio,ams1\neuropa,ams1,extra\n"
    plan = check_import(text)
    assert error_texts(plan) == ["row 3: This row has 3 cells but the header names 2 columns."]


# --- checking rows ---------------------------------------------------------------------


def test_a_new_host_with_everything(estate):
    text = make_csv(
        FULL_HEADER,
        ["io", "App server", "ams1", "R01", "20", "2", "active", "SN1", "AT-1", "Dell", "R640", "2", "32",
         "262144", "sda:480:ssd, sdb:4T:hdd", "eth0=52:54:00:AA:BB:01/10.0.0.21; ipmi0", "10.0.0.21", "10.9.0.21",
         "team-app", "prod; PCI Scope", "bought in 2024, under warranty"],
    )  # fmt: skip
    plan = check_import(text)
    assert plan.is_valid, error_texts(plan)
    row = row_of(plan, 2)
    assert row.action == CREATE
    assert {change.column: change.after for change in row.changes}["disks"] == "sda:480:ssd, sdb:4000:hdd"
    assert plan.new_tags == {"pci-scope": "PCI Scope"}

    summary = commit_import(text, None)
    assert summary["created"] == 1 and summary["tags_created"] == ["PCI Scope"]
    host = Host.objects.get(hostname="io")
    assert (host.role, host.rack, host.position, host.u_height, host.status) == (estate.app, estate.rack, 20, 2, "active")
    assert host.disks == [{"name": "sda", "size_gb": 480, "kind": "ssd"}, {"name": "sdb", "size_gb": 4000, "kind": "hdd"}]
    assert sorted(host.tags.values_list("slug", flat=True)) == ["pci-scope", "prod"]
    interfaces = {i.name: (i.mac_address, i.ip_address) for i in host.interfaces.all()}
    assert interfaces == {"eth0": ("52:54:00:aa:bb:01", "10.0.0.21"), "ipmi0": ("", None)}
    assert (host.memory_mib, host.mgmt_address, host.notes) == (262144, "10.0.0.21", "bought in 2024, under warranty")


def test_a_bad_number_is_reported_with_row_and_column(estate):
    plan = check_import(make_csv(["hostname", "site", "memory_mib"], ["io", "ams1", "64"], ["europa", "ams1", "lots"]))
    assert error_texts(plan) == ["row 3, memory_mib: Enter a whole number."]
    assert [row.action for row in plan.rows] == [CREATE, ERROR]


def test_unknown_role_site_and_rack(estate):
    plan = check_import(
        make_csv(
            ["hostname", "role", "site", "rack"],
            ["io", "mainframe", "ams1", "R01"],
            ["europa", "app", "lon1", "R01"],
            ["callisto", "app", "ams1", "R99"],
        )
    )
    errors = {(e["row"], e["column"]) for e in plan.errors}
    assert errors == {(2, "role"), (3, "site"), (4, "rack")}
    assert "There is no role 'mainframe'. Known roles: app, db." in row_of(plan, 2).errors["role"]
    assert row_of(plan, 4).errors["rack"] == ["Site ams1 has no rack named 'R99'."]


def test_a_new_host_needs_a_site(estate):
    plan = check_import(make_csv(["hostname", "role"], ["io", "app"]))
    assert row_of(plan, 2).errors == {"site": ["A new host needs a site (its slug or name)."]}


def test_bad_addresses_disks_and_names(estate):
    plan = check_import(
        make_csv(
            ["hostname", "site", "mgmt_address", "interfaces", "disks"],
            ["io", "ams1", "10.0.0.300", "", ""],
            ["europa", "ams1", "", "eth0=52:54:zz:aa:bb:cc/10.0.0.5", ""],
            ["callisto", "ams1", "", "eth0=/10.0.0.999", ""],
            ["ganymede", "ams1", "", "", "sda:big"],
            ["Not A Label!", "ams1", "", "", ""],
        )
    )
    columns = {(e["row"], e["column"]) for e in plan.errors}
    assert columns == {(2, "mgmt_address"), (3, "interfaces"), (4, "interfaces"), (5, "disks"), (6, "hostname")}
    assert "not a MAC address" in row_of(plan, 3).errors["interfaces"][0]


def test_duplicate_hostnames_within_the_file(estate):
    plan = check_import(make_csv(["hostname", "site"], ["io", "ams1"], ["europa", "ams1"], ["IO", "ams1"]))
    assert error_texts(plan) == ["row 4, hostname: io is also on row 2."]


def test_duplicate_asset_tags_within_the_file_and_with_the_database(estate, host):
    Host.objects.filter(pk=host.pk).update(asset_tag="AT-7")
    plan = check_import(
        make_csv(["hostname", "site", "asset_tag"], ["io", "ams1", "AT-1"], ["europa", "ams1", "AT-1"], ["callisto", "ams1", "AT-7"])
    )
    assert row_of(plan, 3).errors == {"asset_tag": ["Asset tag AT-1 is also on row 2."]}
    assert "asset_tag" in row_of(plan, 4).errors  # taken by luna


# --- rack space ----------------------------------------------------------------------


def test_overlap_with_a_host_the_file_does_not_mention(estate, host):
    # luna sits in R01 at U10
    plan = check_import(make_csv(["hostname", "site", "rack", "position", "u_height"], ["io", "ams1", "R01", "9", "2"]))
    assert error_texts(plan) == ["row 2, position: Units 9-10 overlap luna (units 10-10)."]


def test_overlap_between_rows_of_the_same_file(estate):
    plan = check_import(
        make_csv(
            ["hostname", "site", "rack", "position", "u_height"],
            ["io", "ams1", "R01", "20", "2"],
            ["europa", "ams1", "R01", "30", "1"],
            ["callisto", "ams1", "R01", "21", "1"],
        )
    )
    assert error_texts(plan) == [
        "row 4, position: Units 21-21 overlap io (units 20-21), row 2 of this file."
    ]


def test_the_same_unit_in_two_racks_is_fine(estate):
    Rack.objects.create(site=estate.site, name="R02")
    plan = check_import(
        make_csv(["hostname", "site", "rack", "position"], ["io", "ams1", "R01", "20"], ["europa", "ams1", "R02", "20"])
    )
    assert plan.is_valid, error_texts(plan)


def test_a_file_may_move_a_host_out_and_another_into_its_units(estate, host, operator):
    text = make_csv(["hostname", "site", "rack", "position"], ["io", "ams1", "R01", "10"], ["luna", "ams1", "R01", "11"])
    plan = check_import(text)
    assert plan.is_valid, error_texts(plan)
    assert [row.action for row in plan.rows] == [CREATE, UPDATE]
    assert Host.objects.get(pk=host.pk).position == 10  # checking wrote nothing
    commit_import(text, operator)
    assert dict(Host.objects.values_list("hostname", "position")) == {"io": 10, "luna": 11}


def test_swapping_two_hosts_is_fine(estate, host):
    Host.objects.create(hostname="sol", site=estate.site, rack=estate.rack, position=11)
    text = make_csv(["hostname", "position"], ["luna", "11"], ["sol", "10"])
    commit_import(text, None)
    assert dict(Host.objects.values_list("hostname", "position")) == {"luna": 11, "sol": 10}


def test_a_host_that_does_not_fit_the_rack(estate):
    plan = check_import(make_csv(["hostname", "site", "rack", "position", "u_height"], ["io", "ams1", "R01", "42", "2"]))
    assert error_texts(plan) == ["row 2, position: Units 42-43 do not fit in a 42U rack."]


# --- model rules: naming, lifecycle --------------------------------------------------


def test_strict_naming_is_enforced(estate):
    plan = check_import(make_csv(["hostname", "role", "site"], ["batman", "db", "ams1"], ["marvin", "db", "ams1"]))
    assert [row.action for row in plan.rows] == [CREATE, ERROR]
    assert "names hosts strictly from the pool 'Comic characters'" in row_of(plan, 3).errors["hostname"][0]


def test_lifecycle_transitions_of_updated_hosts(estate, host, operator):
    decommissioned = Host.objects.create(hostname="marvin", site=estate.site, status=HostStatus.DECOMMISSIONED)
    plan = check_import(make_csv(["hostname", "status"], ["luna", "maintenance"], ["marvin", "active"]))
    assert row_of(plan, 3).errors == {
        "status": ["A host cannot go from decommissioned to active. Allowed from decommissioned: none (final state)."]
    }
    assert row_of(plan, 2).action == UPDATE

    commit_import(make_csv(["hostname", "status"], ["luna", "Maintenance"]), operator)
    host.refresh_from_db()
    assert host.status == HostStatus.MAINTENANCE
    entry = JournalEntry.objects.get(host=host)
    assert (entry.kind, entry.author, entry.text) == ("status", operator, "Status Active → Maintenance (CSV import)")
    assert Host.objects.get(pk=decommissioned.pk).status == HostStatus.DECOMMISSIONED


# --- all or nothing ------------------------------------------------------------------


def test_one_bad_row_among_fifty_writes_nothing(estate, host, operator):
    rows = [[f"app-{n:02d}", "ams1", "app", "1024", "new-tag"] for n in range(50)]
    rows[36][3] = "1.5"  # row 38 in the spreadsheet
    rows.append(["luna", "ams1", "app", "4096", "prod"])  # an update that must not happen either
    text = make_csv(["hostname", "site", "role", "memory_mib", "tags"], *rows)
    before = (Host.objects.count(), Tag.objects.count(), Interface.objects.count(), LogEntry.objects.count())

    plan = check_import(text)
    assert plan.counts == {CREATE: 49, UPDATE: 1, UNCHANGED: 0, ERROR: 1}
    assert error_texts(plan) == ["row 38, memory_mib: Enter a whole number."]
    with pytest.raises(ImportRejected, match="1 of 51 rows have errors; nothing was written"):
        commit_import(text, operator)

    assert (Host.objects.count(), Tag.objects.count(), Interface.objects.count(), LogEntry.objects.count()) == before
    assert Host.objects.get(pk=host.pk).memory_mib == 1024


def test_the_commit_checks_again_against_the_current_inventory(estate):
    text = make_csv(["hostname", "site", "rack", "position"], ["io", "ams1", "R01", "5"])
    assert check_import(text).is_valid
    Host.objects.create(hostname="sneaky", site=estate.site, rack=estate.rack, position=5)  # meanwhile
    with pytest.raises(ImportRejected) as rejected:
        commit_import(text, None)
    assert error_texts(rejected.value.plan) == ["row 2, position: Units 5-5 overlap sneaky (units 5-5)."]
    assert not Host.objects.filter(hostname="io").exists()


# --- updates: what changes and what does not -----------------------------------------


def test_an_update_lists_exactly_the_changed_fields(estate, host):
    plan = check_import(make_csv(["hostname", "site", "memory_mib", "owner", "tags"], ["luna", "Amsterdam DC1", "65536", "team-app", "Production"]))
    row = row_of(plan, 2)
    assert row.action == UPDATE
    assert [(c.column, c.before, c.after) for c in row.changes] == [
        ("memory_mib", "1024", "65536"),
        ("owner", "", "team-app"),
        ("tags", "", "prod"),
    ]
    assert plan.new_tags == {}


def test_missing_columns_and_empty_cells(estate, host, operator):
    Host.objects.filter(pk=host.pk).update(owner="team-app", serial="SN-9", memory_mib=8192)
    commit_import(make_csv(["hostname", "owner", "memory_mib", "status"], ["luna", "", "", ""]), operator)
    host.refresh_from_db()
    assert host.owner == ""  # an empty cell clears a free-text field
    assert host.memory_mib == 8192  # ...but keeps a field that cannot be empty
    assert host.status == "active"
    assert host.serial == "SN-9"  # a missing column leaves the field alone


def test_importing_what_is_there_changes_nothing(estate, host):
    text = make_csv(["hostname", "role", "site", "rack", "position", "status"], ["luna", "app", "ams1", "R01", "10", "active"])
    plan = check_import(text)
    assert [row.action for row in plan.rows] == [UNCHANGED]
    entries = LogEntry.objects.count()
    assert commit_import(text, None) == {
        "rows": 1, "created": 0, "updated": 0, "unchanged": 1, "tags_created": [], "created_hosts": [], "updated_hosts": [],
    }  # fmt: skip
    assert LogEntry.objects.count() == entries


def test_interfaces_are_synchronised_by_name(estate, host):
    keep = Interface.objects.create(host=host, name="eth0", mac_address="52:54:00:00:00:01", ip_address="10.0.0.1")
    Interface.objects.create(host=host, name="eth9", mac_address="52:54:00:00:00:09")
    commit_import(make_csv(["hostname", "interfaces"], ["luna", "eth0=52:54:00:00:00:01/10.0.0.2; eth1=/2001:DB8::1"]), None)
    interfaces = {i.name: (i.pk, i.ip_address) for i in host.interfaces.all()}
    assert interfaces["eth0"] == (keep.pk, "10.0.0.2")  # updated in place
    assert interfaces["eth1"][1] == "2001:db8::1"
    assert "eth9" not in interfaces


def test_tags_are_matched_by_slug_or_name_and_unknown_ones_created(estate, host, operator):
    text = make_csv(["hostname", "tags"], ["luna", "PRODUCTION; prod , Web Tier,web-tier"])
    plan = check_import(text)
    assert row_of(plan, 2).tag_slugs == ["prod", "web-tier"]
    assert plan.new_tags == {"web-tier": "Web Tier"}
    commit_import(text, operator)
    assert sorted(host.tags.values_list("slug", flat=True)) == ["prod", "web-tier"]
    assert Tag.objects.get(slug="web-tier").name == "Web Tier"


def test_a_tag_without_letters_or_digits_is_an_error(estate, host):
    plan = check_import(make_csv(["hostname", "tags"], ["luna", "prod, ???"]))
    assert error_texts(plan) == ["row 2, tags: '???' cannot be a tag: a tag needs letters or digits."]


# --- secrets and the change log --------------------------------------------------------


def test_bmc_password_is_write_only(estate, host, operator):
    plan = check_import(make_csv(["hostname", "bmc_password"], ["luna", "s3cret-Pa55"]))
    (change,) = row_of(plan, 2).changes
    assert change.column == "bmc_password" and "s3cret" not in change.before + change.after
    commit_import(make_csv(["hostname", "bmc_password"], ["luna", "s3cret-Pa55"]), operator)
    assert Host.objects.get(pk=host.pk).bmc_password == "s3cret-Pa55"
    # the same secret again is no change; an empty cell keeps it
    assert row_of(check_import(make_csv(["hostname", "bmc_password"], ["luna", "s3cret-Pa55"])), 2).action == UNCHANGED
    commit_import(make_csv(["hostname", "bmc_password", "owner"], ["luna", "", "ops"]), operator)
    assert Host.objects.get(pk=host.pk).bmc_password == "s3cret-Pa55"
    host_log = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Host))
    assert not any("s3cret" in str(entry.changes) for entry in host_log)


def test_the_change_log_names_the_importing_user(estate, host, operator):
    last_entry = LogEntry.objects.latest("pk").pk
    commit_import(make_csv(["hostname", "site", "owner"], ["io", "ams1", "team-io"], ["luna", "ams1", "team-luna"]), operator)
    host_type = ContentType.objects.get_for_model(Host)
    entries = LogEntry.objects.filter(pk__gt=last_entry, content_type=host_type)
    assert {(entry.object_repr, entry.action) for entry in entries} == {
        ("io", LogEntry.Action.CREATE),
        ("luna", LogEntry.Action.UPDATE),
    }
    assert {entry.actor for entry in entries} == {operator}


def test_cells_that_look_like_formulas_come_back_as_written(estate, host, operator):
    text = make_csv(["hostname", "notes", "owner"], ["luna", "'=HYPERLINK(\"x\")", "'-ops"])
    commit_import(text, operator)
    host.refresh_from_db()
    assert (host.notes, host.owner) == ('=HYPERLINK("x")', "-ops")


def test_status_by_value_or_label_and_one_clear_error_for_nonsense(estate, host):
    plan = check_import(make_csv(["hostname", "status"], ["luna", "Maintenance"]))
    assert row_of(plan, 2).host.status == HostStatus.MAINTENANCE
    plan = check_import(make_csv(["hostname", "status"], ["luna", "sleeping"]))
    assert error_texts(plan) == [
        "row 2, status: 'sleeping' is not a status. Statuses: planned, active, spare, maintenance, failed, migrated, decommissioned."
    ]


def test_a_file_the_csv_module_cannot_read_is_a_file_error():
    with pytest.raises(CSVFileError, match="not readable CSV near line 2: field larger than field limit"):
        parse_csv("hostname,notes\nio," + "x" * 200_000 + "\n")


def test_a_file_with_nul_characters_is_refused():
    with pytest.raises(CSVFileError, match="NUL characters"):
        parse_csv("hostname,notes\nio,a\x00b\n")
