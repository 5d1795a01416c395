"""Export, edit in a spreadsheet, import again: the CSV is a faithful picture of the hosts."""

import csv
import io

import pytest
from auditlog.models import LogEntry

from inventory.csv_export import COLUMNS
from inventory.csv_import import UNCHANGED, UPDATE, check_import, commit_import
from inventory.models import Host, Interface, Rack, Role, Tag

EXPORT_URL = "/api/inventory/hosts/export/"


def exported(client, **params):
    response = client.get(EXPORT_URL, params)
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def estate(site, rack, app_role):
    db_role = Role.objects.create(name="Database server", slug="db")
    prod = Tag.objects.create(name="Production", slug="prod")
    pci = Tag.objects.create(name="PCI scope", slug="pci")
    r02 = Rack.objects.create(site=site, name="R02", u_height=48)
    luna = Host.objects.create(
        hostname="luna", role=app_role, site=site, rack=rack, position=10, u_height=2, status="active",
        serial="CZ2041XYZ", asset_tag="AT-0001", vendor="HPE", model="DL360 Gen10", cpu_sockets=2, cpu_cores=40,
        memory_mib=393216, disks=[{"name": "sda", "size_gb": 480, "kind": "ssd"}, {"name": "sdb", "size_gb": 4000}],
        mgmt_address="10.1.0.10", bmc_address="ilo-luna.mgmt", bmc_password="Very-s3cret!", owner="team-app",
        notes='Rack "A", shelf 2\nwarranty until 2027; see ticket #42 — Zürich',
    )  # fmt: skip
    luna.tags.set([prod, pci])
    Interface.objects.create(host=luna, name="eth0", mac_address="52:54:00:aa:bb:01", ip_address="10.0.0.10")
    Interface.objects.create(host=luna, name="eth1", ip_address="2001:db8::10")
    Interface.objects.create(host=luna, name="ipmi0")
    batman = Host.objects.create(
        hostname="batman", role=db_role, site=site, rack=r02, position=1, status="spare", cpu_cores=16,
        memory_mib=131072, mgmt_address="2001:db8::20", notes="=cmd|' /C calc'!A0",
    )  # fmt: skip
    batman.tags.set([prod])
    Interface.objects.create(host=batman, name="bond0", mac_address="52:54:00:aa:bb:02", ip_address="10.0.0.20")
    Host.objects.create(hostname="marvin", site=site, status="failed", owner="-mail-")  # no role, no rack
    return site


def test_export_then_import_is_a_no_op(estate, viewer_api, operator):
    text = exported(viewer_api)
    plan = check_import(text)
    assert plan.is_valid, plan.errors
    assert {row.hostname: row.action for row in plan.rows} == {"batman": UNCHANGED, "luna": UNCHANGED, "marvin": UNCHANGED}

    entries = LogEntry.objects.count()
    summary = commit_import(text, operator)
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 0, 3)
    assert LogEntry.objects.count() == entries
    assert exported(viewer_api) == text


def test_the_export_never_holds_the_bmc_password_and_reimport_keeps_it(estate, viewer_api, operator):
    text = exported(viewer_api)
    assert "bmc_password" not in text and "s3cret" not in text
    commit_import(text, operator)
    assert Host.objects.get(hostname="luna").bmc_password == "Very-s3cret!"


def test_edit_in_a_spreadsheet_and_import_updates_just_that(estate, viewer_api, operator):
    rows = list(csv.DictReader(io.StringIO(exported(viewer_api))))
    by_name = {row["hostname"]: row for row in rows}
    by_name["luna"]["memory_mib"] = "524288"
    by_name["luna"]["interfaces"] = by_name["luna"]["interfaces"].replace("10.0.0.10", "10.0.0.11")
    by_name["batman"]["tags"] = "pci, prod"
    by_name["batman"]["rack"], by_name["batman"]["position"] = "R01", "20"
    by_name["marvin"]["status"] = "maintenance"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    edited = out.getvalue()

    plan = check_import(edited)
    assert plan.is_valid, plan.errors
    changes = {row.hostname: [(c.column, c.before, c.after) for c in row.changes] for row in plan.rows}
    assert {row.hostname: row.action for row in plan.rows} == {"batman": UPDATE, "luna": UPDATE, "marvin": UPDATE}
    assert changes["luna"] == [
        ("memory_mib", "393216", "524288"),
        (
            "interfaces",
            "eth0=52:54:00:aa:bb:01/10.0.0.10; eth1=/2001:db8::10; ipmi0",
            "eth0=52:54:00:aa:bb:01/10.0.0.11; eth1=/2001:db8::10; ipmi0",
        ),
    ]
    assert changes["batman"] == [("rack", "R02", "R01"), ("position", "1", "20"), ("tags", "prod", "pci, prod")]
    assert changes["marvin"] == [("status", "failed", "maintenance")]

    commit_import(edited, operator)
    assert exported(viewer_api) == edited
    luna = Host.objects.get(hostname="luna")
    assert luna.memory_mib == 524288 and luna.interfaces.get(name="eth0").ip_address == "10.0.0.11"
    assert luna.bmc_password == "Very-s3cret!"


def test_a_file_exported_from_one_inventory_creates_the_hosts_in_another(estate, viewer_api, operator):
    text = exported(viewer_api, role="app")
    Interface.objects.all().delete()
    Host.objects.all().delete()
    Tag.objects.all().delete()

    summary = commit_import(text, operator)
    assert summary["created"] == 1 and sorted(summary["tags_created"]) == ["pci", "prod"]
    assert exported(viewer_api) == text


def test_a_migrated_host_exports_its_cloud_instance_and_an_import_cannot_change_it(estate, viewer_api, operator):
    Host.objects.filter(hostname="luna").update(status="migrated", cloud_instance_id="i-0123456789abcdef0")
    rows = list(csv.DictReader(io.StringIO(exported(viewer_api))))
    luna = next(row for row in rows if row["hostname"] == "luna")
    assert luna["cloud_instance_id"] == "i-0123456789abcdef0" and luna["status"] == "migrated"
    luna["cloud_instance_id"], luna["owner"] = "i-somewhere-else", "cloud team"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)

    plan = check_import(out.getvalue())
    assert plan.is_valid, plan.errors
    assert [(c.column, c.after) for row in plan.rows if row.hostname == "luna" for c in row.changes] == [
        ("owner", "cloud team")]  # the read-only column is no change
    commit_import(out.getvalue(), operator)
    assert Host.objects.filter(hostname="luna").values_list("cloud_instance_id", "owner").get() == (
        "i-0123456789abcdef0", "cloud team")
