"""CSV export of hosts: console and API, filters, secrets, a fixed number of queries."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.csv_export import COLUMNS, IMPORTABLE_COLUMNS
from inventory.models import Host, Interface, Tag

API_EXPORT = "/api/inventory/hosts/export/"
CONSOLE_EXPORT = "/inventory/import/export/"


def rows_of(response):
    assert response.status_code == 200, getattr(response, "content", b"")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def add_hosts(site, rack, count, start=0, tag=None):
    for n in range(start, start + count):
        host = Host.objects.create(
            hostname=f"node-{n:03d}", site=site, rack=rack, position=n + 1, status="active" if n % 2 else "spare",
            bmc_password=f"secret-{n}", disks=[{"name": "sda", "size_gb": 480}],
        )  # fmt: skip
        Interface.objects.create(host=host, name="eth0", mac_address=f"52:54:00:00:00:{n:02x}", ip_address=f"10.0.0.{n + 1}")
        if tag:
            host.tags.add(tag)


@pytest.fixture
def tagged(site, rack):
    tag = Tag.objects.create(name="Production", slug="prod")
    add_hosts(site, rack, 4, tag=tag)
    return tag


def test_the_export_has_every_column_and_no_secret(tagged, viewer_api):
    rows = rows_of(viewer_api.get(API_EXPORT))
    assert tuple(rows[0]) == COLUMNS
    assert "bmc_password" not in rows[0]
    assert [row[0] for row in rows[1:]] == ["node-000", "node-001", "node-002", "node-003"]
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["interfaces"] == "eth0=52:54:00:00:00:00/10.0.0.1"
    assert (first["disks"], first["tags"], first["rack"], first["site"]) == ("sda:480", "prod", "R01", "ams1")
    assert not any("secret-" in cell for row in rows for cell in row)


def test_the_export_is_a_streamed_download(tagged, viewer_api):
    response = viewer_api.get(API_EXPORT, HTTP_ACCEPT="text/csv")
    assert response.streaming
    assert response["Content-Disposition"].startswith('attachment; filename="hosts-')
    assert len(rows_of(response)) == 5


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"status": "spare"}, ["node-000", "node-002"]),
        ({"q": "node-003"}, ["node-003"]),
        ({"tag": "prod", "status": "active"}, ["node-001", "node-003"]),
    ],
)
def test_the_export_applies_the_host_list_filters(tagged, site, rack, viewer_api, client, viewer, params, expected):
    add_hosts(site, rack, 1, start=11)  # active, untagged
    assert [row[0] for row in rows_of(viewer_api.get(API_EXPORT, params))[1:]] == expected
    client.force_login(viewer)
    assert [row[0] for row in rows_of(client.get(CONSOLE_EXPORT, params))[1:]] == expected


def test_invalid_filters_are_an_error_not_everything(tagged, viewer_api, client, viewer):
    response = viewer_api.get(API_EXPORT, {"status": "sleeping"})
    assert response.status_code == 400
    assert "status" in response.json()

    client.force_login(viewer)
    response = client.get(CONSOLE_EXPORT, {"status": "sleeping"}, follow=True)
    assert response.redirect_chain[-1][0].startswith("/inventory/hosts/?status=sleeping")
    assert "Cannot export: status:" in response.content.decode()


def test_query_count_does_not_grow_with_the_number_of_hosts(site, rack, viewer_api):
    tag = Tag.objects.create(name="Production", slug="prod")

    def queries_for_export():
        with CaptureQueriesContext(connection) as queries:
            rows = rows_of(viewer_api.get(API_EXPORT))
        return len(queries), len(rows)

    add_hosts(site, rack, 2, tag=tag)
    few, few_rows = queries_for_export()
    add_hosts(site, rack, 20, start=2, tag=tag)
    many, many_rows = queries_for_export()
    assert (few_rows, many_rows) == (3, 23)
    assert many == few


def test_cells_a_spreadsheet_would_run_as_formulas_are_quoted(site, viewer_api):
    Host.objects.create(hostname="evil", site=site, notes="=HYPERLINK(\"http://x\")", owner="@ops")
    row = dict(zip(*rows_of(viewer_api.get(API_EXPORT)), strict=True))
    assert (row["notes"], row["owner"]) == ("'=HYPERLINK(\"http://x\")", "'@ops")


def test_the_empty_template_has_every_importable_column(client, viewer):
    client.force_login(viewer)
    rows = rows_of(client.get("/inventory/import/template/"))
    assert tuple(rows[0]) == IMPORTABLE_COLUMNS and len(rows) == 1
    assert "bmc_password" in rows[0] and "cloud_instance_id" not in rows[0]  # write-only in, read-only out


def test_export_needs_a_role(tagged, anon_api, client, nobody):
    assert anon_api.get(API_EXPORT).status_code == 401
    response = client.get(CONSOLE_EXPORT)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    client.force_login(nobody)
    assert client.get(CONSOLE_EXPORT).status_code == 403
