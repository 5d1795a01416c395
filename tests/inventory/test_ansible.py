"""The Ansible dynamic inventory: the service, the API endpoint, the management command,
and the real `ansible-inventory` reading both."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.ansible import build_inventory, host_vars_by_name
from inventory.models import Host, Interface, Role, Site, Tag
from tests.conftest import BASE_DIR, _database_url_for_worker, token_client

ANSIBLE_INVENTORY = Path(sys.executable).with_name("ansible-inventory")


@pytest.fixture
def estate(site, rack, app_role):
    """luna (app, active, mgmt address), batman (db, spare, address from eth1 only),
    joker (no role, no address), marvin (decommissioned: never in the inventory)."""
    db_role = Role.objects.create(name="Database server", slug="db-server")
    prod = Tag.objects.create(name="Production", slug="prod")
    fra = Site.objects.create(name="Frankfurt", slug="fra-1")
    luna = Host.objects.create(hostname="luna", site=site, rack=rack, position=1, role=app_role, status="active",
                               mgmt_address="192.0.2.10", owner="web team")
    luna.tags.add(prod)
    batman = Host.objects.create(hostname="batman", site=fra, role=db_role, status="spare", owner="dba")
    Interface.objects.create(host=batman, name="eth0")
    Interface.objects.create(host=batman, name="eth1", ip_address="192.0.2.21")
    Interface.objects.create(host=batman, name="eth2", ip_address="192.0.2.22")
    Host.objects.create(hostname="joker", site=fra, status="maintenance")
    Host.objects.create(hostname="marvin", site=site, role=app_role, status="decommissioned")
    return {"luna": luna, "batman": batman}


EXPECTED_GROUPS = {
    "role_app": ["luna"],
    "role_db_server": ["batman"],
    "site_ams1": ["luna"],
    "site_fra_1": ["batman", "joker"],
    "status_active": ["luna"],
    "status_spare": ["batman"],
    "status_maintenance": ["joker"],
    "tag_prod": ["luna"],
}


def groups_of(inventory):
    return {name: sorted(group.get("hosts", [])) for name, group in inventory.items()
            if name not in ("_meta", "all", "ungrouped") and group.get("hosts")}


def test_build_inventory_groups_and_hostvars(estate):
    inventory = build_inventory()
    assert groups_of(inventory) == EXPECTED_GROUPS
    assert sorted(inventory["all"]["children"]) == sorted([*EXPECTED_GROUPS, "ungrouped"])
    hostvars = inventory["_meta"]["hostvars"]
    assert set(hostvars) == {"luna", "batman", "joker"}  # marvin is decommissioned
    assert hostvars["luna"]["ansible_host"] == "192.0.2.10"
    assert hostvars["batman"]["ansible_host"] == "192.0.2.21"  # first interface with an address
    assert "ansible_host" not in hostvars["joker"]
    assert hostvars["luna"] | {"opsconsole_id": 0} == {
        "ansible_host": "192.0.2.10", "opsconsole_id": 0, "opsconsole_role": "app", "opsconsole_site": "ams1",
        "opsconsole_rack": "R01", "opsconsole_position": 1, "opsconsole_status": "active",
        "opsconsole_owner": "web team", "opsconsole_tags": ["prod"], "opsconsole_vendor": "",
        "opsconsole_model": "", "opsconsole_serial": "",
    }
    assert hostvars["joker"]["opsconsole_role"] is None


def test_build_inventory_runs_a_fixed_number_of_queries(estate, site):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            build_inventory()
        return len(captured)

    few = queries()
    for n in range(40):
        host = Host.objects.create(hostname=f"extra{n}", site=site, status="active")
        Interface.objects.create(host=host, name="eth0", ip_address=f"198.51.100.{n + 1}")
        host.tags.add(Tag.objects.get(slug="prod"))
    assert queries() == few


def test_host_vars_by_name(estate):
    assert host_vars_by_name("luna")["opsconsole_site"] == "ams1"
    assert host_vars_by_name("marvin") == {}
    assert host_vars_by_name("nobody-here") == {}


def test_management_command(estate):
    out = io.StringIO()
    call_command("ansible_inventory", "--list", stdout=out)
    assert json.loads(out.getvalue()) == json.loads(json.dumps(build_inventory()))
    out = io.StringIO()
    call_command("ansible_inventory", "--host", "batman", stdout=out)
    assert json.loads(out.getvalue())["ansible_host"] == "192.0.2.21"
    out = io.StringIO()
    call_command("ansible_inventory", "--host", "marvin", stdout=out)
    assert json.loads(out.getvalue()) == {}


def test_api_endpoint(viewer_api, anon_api, nobody, estate):
    response = viewer_api.get("/api/inventory/ansible/")
    assert response.status_code == 200
    assert groups_of(response.json()) == EXPECTED_GROUPS
    assert anon_api.get("/api/inventory/ansible/").status_code == 401
    assert token_client(nobody).get("/api/inventory/ansible/").status_code == 403


# --- the real ansible-inventory ------------------------------------------------------


def run_ansible_inventory(script, tmp_path):
    env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8", ANSIBLE_HOME=str(tmp_path / "ansible-home"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"), ANSIBLE_INVENTORY_UNPARSED_FAILED="true",
               DATABASE_URL=_database_url_for_worker())
    result = subprocess.run([str(ANSIBLE_INVENTORY), "-i", str(script), "--list"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def write_script(path, text):
    path.write_text(text)
    path.chmod(0o755)
    return path


def assert_ansible_sees_the_estate(seen):
    assert groups_of(seen) == EXPECTED_GROUPS
    hostvars = seen["_meta"]["hostvars"]
    assert set(hostvars) == {"luna", "batman", "joker"}
    assert hostvars["batman"]["ansible_host"] == "192.0.2.21"
    assert hostvars["luna"]["opsconsole_tags"] == ["prod"]
    assert hostvars == json.loads(json.dumps(build_inventory()["_meta"]["hostvars"]))


@pytest.mark.django_db(transaction=True)
def test_ansible_inventory_reads_the_management_command(estate, tmp_path):
    script = write_script(
        tmp_path / "opsconsole-inventory.sh",
        f'#!/bin/sh\nexec "{sys.executable}" "{BASE_DIR / "manage.py"}" ansible_inventory "$@"\n',
    )
    assert_ansible_sees_the_estate(run_ansible_inventory(script, tmp_path))


@pytest.mark.django_db(transaction=True)
def test_ansible_inventory_reads_the_api(estate, viewer, live_server, tmp_path):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=viewer)
    script = write_script(tmp_path / "opsconsole-api-inventory.py", f"""#!{sys.executable}
import json, sys, urllib.request
if "--host" in sys.argv:
    print("{{}}")
    sys.exit(0)
request = urllib.request.Request("{live_server.url}/api/inventory/ansible/",
                                 headers={{"Authorization": "Token {token.key}"}})
with urllib.request.urlopen(request, timeout=30) as response:
    print(json.dumps(json.load(response)))
""")
    assert_ansible_sees_the_estate(run_ansible_inventory(script, tmp_path))
