"""The hosts API: representation, validation through the model's rules, the lifecycle,
write-only secrets, bulk writes, change-log attribution and a fixed query count."""

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.models import Host, Interface, JournalEntry, NamingScheme, Rack, Role, Site, Tag

HOSTS = "/api/inventory/hosts/"


def detail(host):
    return f"{HOSTS}{host.pk}/"


@pytest.fixture
def db_role(db):
    scheme = NamingScheme.objects.create(name="Comic characters", names=["batman", "robin", "joker"])
    return Role.objects.create(name="Database server", slug="db", naming_scheme=scheme, strict_naming=True)


@pytest.fixture
def tags(db):
    return [Tag.objects.create(name="Production", slug="prod"), Tag.objects.create(name="PCI", slug="pci")]


def new_host(**overrides):
    data = {"hostname": "mercury", "site": "ams1", "role": "app", "status": "planned"}
    data.update(overrides)
    return data


# --- reading ------------------------------------------------------------------


def test_host_representation(viewer_api, host, tags):
    host.tags.set(tags)
    Interface.objects.create(host=host, name="eth0", mac_address="52:54:00:00:00:01", ip_address="10.0.0.5")
    body = viewer_api.get(detail(host)).json()
    assert body["hostname"] == "luna"
    assert (body["role"], body["site"], body["rack"], body["rack_name"]) == ("app", "ams1", host.rack_id, "R01")
    assert sorted(body["tags"]) == ["pci", "prod"]
    assert body["interfaces"] == [
        {"id": host.interfaces.get().pk, "name": "eth0", "mac_address": "52:54:00:00:00:01", "ip_address": "10.0.0.5"}
    ]
    assert body["bmc_password_set"] is False
    assert "bmc_password" not in body


@pytest.mark.parametrize(
    "query, expected",
    [
        ("status=spare", ["io"]),
        ("status=spare&status=active", ["io", "luna"]),
        ("role=app", ["luna"]),
        ("site=ams1", ["io", "luna"]),
        ("tag=prod", ["io"]),
        ("q=lun", ["luna"]),
        ("q=10.9.", ["io"]),
        ("ordering=-hostname", ["luna", "io"]),
    ],
)
def test_host_list_filters_and_ordering(viewer_api, host, site, tags, query, expected):
    spare = Host.objects.create(hostname="io", site=site, status="spare")
    spare.tags.add(tags[0])
    Interface.objects.create(host=spare, name="eth0", ip_address="10.9.0.1")
    response = viewer_api.get(f"{HOSTS}?{query}")
    assert response.status_code == 200
    assert [row["hostname"] for row in response.json()["results"]] == expected


def test_unknown_filter_value_is_a_400(viewer_api, host):
    response = viewer_api.get(f"{HOSTS}?status=exploded")
    assert response.status_code == 400
    assert "status" in response.json()


def test_host_list_runs_a_fixed_number_of_queries(viewer_api, site, rack, app_role, tags):
    def make_hosts(first, count):
        hosts = Host.objects.bulk_create(
            Host(hostname=f"h{n:04d}", site=site, rack=rack, role=app_role, status="active")
            for n in range(first, first + count)
        )
        Interface.objects.bulk_create(
            Interface(host=h, name=name, ip_address=f"10.{n // 250}.{n % 250}.{i}")
            for n, h in enumerate(hosts, start=first)
            for i, name in enumerate(["eth0", "eth1"], start=1)
        )
        Host.tags.through.objects.bulk_create(
            Host.tags.through(host_id=h.pk, tag_id=tag.pk) for h in hosts for tag in tags
        )

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            response = viewer_api.get(f"{HOSTS}?limit=1000")
        assert response.status_code == 200
        return len(queries), response.json()["count"]

    make_hosts(0, 10)
    small, small_count = count_queries()
    make_hosts(10, 490)
    large, large_count = count_queries()
    assert (small_count, large_count) == (10, 500)
    assert small == large, f"{small} queries for 10 hosts, {large} for 500"


# --- creating -----------------------------------------------------------------


def test_create_host_with_nested_interfaces_and_slugs(operator_api, site, app_role, tags):
    data = new_host(
        tags=["prod", "pci"],
        interfaces=[
            {"name": "eth0", "mac_address": "52:54:00:AB:CD:EF", "ip_address": "10.0.0.7"},
            {"name": "eth1", "mac_address": "", "ip_address": None},
        ],
        disks=[{"name": "sda", "size_gb": 480, "kind": "ssd"}],
        bmc_password="s3cret-bmc",
    )
    response = operator_api.post(HOSTS, data, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    host = Host.objects.get(hostname="mercury")
    assert body["id"] == host.pk
    assert (host.site, host.role, host.status) == (site, app_role, "planned")
    assert sorted(host.tags.values_list("slug", flat=True)) == ["pci", "prod"]
    assert list(host.interfaces.values_list("name", "mac_address", "ip_address")) == [
        ("eth0", "52:54:00:ab:cd:ef", "10.0.0.7"),
        ("eth1", "", None),
    ]
    assert host.disks == [{"name": "sda", "size_gb": 480, "kind": "ssd"}]
    assert host.bmc_password == "s3cret-bmc"
    assert body["bmc_password_set"] is True


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"hostname": "Not A Label"}, "hostname"),
        ({"hostname": "luna"}, "hostname"),  # taken
        ({"site": "nowhere"}, "site"),
        ({"role": "nope"}, "role"),
        ({"tags": ["no-such-tag"]}, "tags"),
        ({"status": "exploded"}, "status"),
        ({"memory_mib": 0}, "memory_mib"),
        ({"mgmt_address": "10.0.0.999"}, "mgmt_address"),
        ({"rack": 999999}, "rack"),
        ({"position": 3}, "position"),  # a position needs a rack
        ({"disks": [{"size_gb": 3}]}, "disks"),
        ({"disks": [{"name": "sda", "size_gb": -1}]}, "disks"),
        ({"disks": "sda"}, "disks"),
        ({"interfaces": [{"name": "eth0"}, {"name": "eth0"}]}, "interfaces"),
        ({"interfaces": [{"name": "eth0", "mac_address": "zz:zz"}]}, "interfaces"),
        ({"bmc_password": "x" * 201}, "bmc_password"),
    ],
)
def test_create_host_bad_input_gives_field_errors(operator_api, host, overrides, field):
    response = operator_api.post(HOSTS, new_host(**overrides), format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Host.objects.filter(hostname=new_host(**overrides)["hostname"]).exclude(pk=host.pk).exists()


def test_model_rules_come_back_as_field_errors(operator_api, host, site, rack, db_role):
    other_site_rack = Rack.objects.create(site=Site.objects.create(name="Frankfurt", slug="fra1"), name="R99")
    cases = [
        # overlaps luna (units 10-10)
        (new_host(rack=rack.pk, position=10), "position", "overlap luna"),
        (new_host(rack=rack.pk, position=42, u_height=2), "position", "do not fit"),
        (new_host(rack=other_site_rack.pk), "rack", "not this host's site"),
        (new_host(role="db", hostname="superman"), "hostname", "strictly from the pool"),
    ]
    for data, field, message in cases:
        response = operator_api.post(HOSTS, data, format="json")
        assert response.status_code == 400, data
        assert message in " ".join(response.json()[field]), response.json()
    assert operator_api.post(HOSTS, new_host(role="db", hostname="batman"), format="json").status_code == 201


# --- updating and the lifecycle ------------------------------------------------


def test_patch_replaces_interfaces_by_name(operator_api, host):
    kept = Interface.objects.create(host=host, name="eth0", mac_address="52:54:00:00:00:01")
    Interface.objects.create(host=host, name="eth9")
    response = operator_api.patch(
        detail(host),
        {"interfaces": [{"name": "eth0", "ip_address": "10.0.0.1"}, {"name": "eth1"}]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert [i["name"] for i in response.json()["interfaces"]] == ["eth0", "eth1"]
    kept.refresh_from_db()
    assert (kept.ip_address, kept.mac_address) == ("10.0.0.1", "52:54:00:00:00:01")
    assert not Interface.objects.filter(name="eth9").exists()


def test_patch_without_interfaces_leaves_them_alone(operator_api, host):
    Interface.objects.create(host=host, name="eth0")
    assert operator_api.patch(detail(host), {"owner": "dba"}, format="json").status_code == 200
    assert host.interfaces.count() == 1


def test_status_change_follows_the_lifecycle_and_is_journaled(operator_api, operator, host):
    response = operator_api.patch(detail(host), {"status": "failed", "status_reason": "Marvin is dead"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "failed"
    entry = JournalEntry.objects.get(host=host)
    assert entry.kind == JournalEntry.Kind.STATUS
    assert entry.author == operator
    assert "Marvin is dead" in entry.text


@pytest.mark.parametrize("start, target", [("failed", "active"), ("decommissioned", "active"), ("planned", "failed")])
def test_forbidden_transition_is_a_400(operator_api, host, start, target):
    Host.objects.filter(pk=host.pk).update(status=start)
    response = operator_api.patch(detail(host), {"status": target}, format="json")
    assert response.status_code == 400
    assert f"cannot go from {start} to {target}" in response.json()["status"][0]
    host.refresh_from_db()
    assert host.status == start
    assert not JournalEntry.objects.filter(host=host).exists()


def test_put_round_trips_what_get_returns(operator_api, host, tags):
    host.tags.set(tags)
    body = operator_api.get(detail(host)).json()
    body["owner"] = "web team"
    response = operator_api.put(detail(host), body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["owner"] == "web team"
    assert sorted(response.json()["tags"]) == ["pci", "prod"]


# --- the BMC password is write-only ---------------------------------------------


def test_bmc_password_is_never_returned(operator_api, admin_api, host):
    secret = "hunter2-bmc-secret"
    responses = [
        operator_api.patch(detail(host), {"bmc_password": secret}, format="json"),
        operator_api.get(detail(host)),
        operator_api.get(HOSTS),
        operator_api.post(HOSTS, new_host(bmc_password=secret), format="json"),
        operator_api.post(HOSTS, [new_host(hostname="venus", bmc_password=secret)], format="json"),
        operator_api.patch(HOSTS, [{"id": host.pk, "bmc_password": secret}], format="json"),
        admin_api.get("/api/changelog/?model=host"),
        admin_api.get("/api/inventory/ansible/"),
    ]
    for response in responses:
        assert response.status_code in (200, 201), response.content
        assert secret not in response.content.decode()
        assert "bmc_password\"" not in response.content.decode().replace("bmc_password_set", "")
    host.refresh_from_db()
    assert host.bmc_password == secret
    with connection.cursor() as cursor:
        cursor.execute("SELECT bmc_password FROM inventory_host WHERE id = %s", [host.pk])
        assert secret not in cursor.fetchone()[0]  # encrypted at rest


# --- bulk writes ---------------------------------------------------------------


def test_bulk_create_creates_all(operator_api, site, app_role):
    names = ["mercury", "venus", "mars"]
    response = operator_api.post(HOSTS, [new_host(hostname=n) for n in names], format="json")
    assert response.status_code == 201, response.json()
    assert [h["hostname"] for h in response.json()] == names
    assert set(Host.objects.values_list("hostname", flat=True)) == set(names)


def test_bulk_create_is_all_or_nothing_with_errors_by_index(operator_api, site, app_role, rack):
    items = [
        new_host(hostname="mercury", rack=rack.pk, position=1),
        new_host(hostname="BAD NAME"),
        new_host(hostname="venus"),
        new_host(hostname="mars", rack=rack.pk, position=1),  # clashes with item 0
        new_host(hostname="venus"),  # taken by item 2
    ]
    response = operator_api.post(HOSTS, items, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"1", "3", "4"}
    assert "hostname" in errors["1"]
    assert "overlap mercury" in errors["3"]["position"][0]
    assert "hostname" in errors["4"]
    assert not Host.objects.exists()


@pytest.mark.parametrize("payload", [[], ["not an object"], [None]])
def test_bulk_create_refuses_empty_or_malformed_lists(operator_api, site, payload):
    response = operator_api.post(HOSTS, payload, format="json")
    assert response.status_code == 400
    assert response.json()


def test_bulk_create_has_a_size_limit(operator_api, site, monkeypatch):
    monkeypatch.setattr("inventory.api.views.HostViewSet.max_bulk_items", 2)
    response = operator_api.post(HOSTS, [new_host(hostname=f"h{n}") for n in range(3)], format="json")
    assert response.status_code == 400
    assert "At most 2 items" in response.json()["non_field_errors"][0]


def test_bulk_update_changes_all(operator_api, operator, host, site):
    other = Host.objects.create(hostname="io", site=site, status="active")
    response = operator_api.patch(
        HOSTS,
        [{"id": host.pk, "owner": "web", "status": "maintenance"}, {"id": other.pk, "owner": "db"}],
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert [(h["hostname"], h["owner"], h["status"]) for h in response.json()] == [
        ("luna", "web", "maintenance"),
        ("io", "db", "active"),
    ]
    assert JournalEntry.objects.get(host=host).kind == JournalEntry.Kind.STATUS


def test_bulk_update_is_all_or_nothing(operator_api, host, site):
    other = Host.objects.create(hostname="io", site=site, status="failed")
    items = [
        {"id": host.pk, "owner": "web"},
        {"id": other.pk, "status": "active"},  # failed -> active is forbidden
        {"owner": "no id"},
        {"id": 999999, "owner": "x"},
        {"id": host.pk, "owner": "twice"},
        {"id": "abc"},
    ]
    response = operator_api.patch(HOSTS, items, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"1", "2", "3", "4", "5"}
    assert "status" in errors["1"]
    assert errors["2"]["id"] == ["This field is required."]
    assert "No object with id 999999" in errors["3"]["id"][0]
    assert "twice" in errors["4"]["id"][0]
    assert "id" in errors["5"]
    host.refresh_from_db()
    assert host.owner == ""


# --- change log attribution ------------------------------------------------------


def actors_of(model, pks, after):
    """Who made the changes logged for these objects since the entry `after`."""
    entries = LogEntry.objects.get_for_objects(model.objects.filter(pk__in=list(pks))).filter(pk__gt=after)
    assert entries.exists()
    return set(entries.values_list("actor__username", flat=True))


def last_log_entry():
    return LogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def test_single_writes_are_logged_as_the_api_user(operator_api, operator, host):
    before = last_log_entry()
    created = operator_api.post(HOSTS, new_host(interfaces=[{"name": "eth0"}]), format="json").json()
    operator_api.patch(detail(host), {"status": "maintenance", "owner": "x", "interfaces": [{"name": "eth1"}]}, format="json")
    assert actors_of(Host, [created["id"], host.pk], before) == {operator.username}
    assert actors_of(Interface, Interface.objects.values_list("pk", flat=True), before) == {operator.username}
    assert actors_of(JournalEntry, JournalEntry.objects.values_list("pk", flat=True), before) == {operator.username}


def test_bulk_writes_are_logged_as_the_api_user(operator_api, operator, host, site):
    other = Host.objects.create(hostname="io", site=site, status="active")
    before = last_log_entry()
    created = operator_api.post(HOSTS, [new_host(hostname="mercury"), new_host(hostname="venus")], format="json")
    # the first item changes status (the lifecycle service sets its own actor); the
    # second item's entries must still name the API user
    updated = operator_api.patch(
        HOSTS, [{"id": host.pk, "status": "maintenance"}, {"id": other.pk, "owner": "web"}], format="json"
    )
    assert (created.status_code, updated.status_code) == (201, 200)
    pks = [h["id"] for h in created.json()] + [host.pk, other.pk]
    assert actors_of(Host, pks, before) == {operator.username}
    assert LogEntry.objects.filter(pk__gt=before).count() >= 5


# --- deleting --------------------------------------------------------------------


def test_admin_deletes_a_host(admin_api, host):
    assert admin_api.delete(detail(host)).status_code == 204
    assert not Host.objects.filter(pk=host.pk).exists()
