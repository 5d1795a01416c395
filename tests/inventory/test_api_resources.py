"""Create/update and bad input on the inventory endpoints other than hosts, the
suggest-next-name endpoint, and the journal's and interfaces' own rules."""

import pytest

from inventory.models import Host, Interface, JournalEntry, NamingScheme, Rack, Role, Site, Tag

API = "/api/inventory"

# endpoint, model, a valid body, a lookup proving it was stored
CREATES = [
    ("sites", Site, {"name": "Frankfurt", "slug": "fra1", "address": "Hanauer Landstr."}, {"slug": "fra1"}),
    ("racks", Rack, {"site": "ams1", "name": "R02", "u_height": 47}, {"name": "R02", "site__slug": "ams1"}),
    ("roles", Role, {"name": "Web server", "slug": "web"}, {"slug": "web"}),
    ("naming-schemes", NamingScheme, {"name": "Myths", "names": ["zeus", "hera"]}, {"name": "Myths"}),
    ("tags", Tag, {"name": "PCI", "slug": "pci", "color": "#ff0000"}, {"slug": "pci"}),
]

# endpoint, a bad body, the field the error must name
BAD_INPUT = [
    ("sites", {"name": "Amsterdam DC1", "slug": "other"}, "name"),  # taken
    ("sites", {"name": "X", "slug": "not a slug"}, "slug"),
    ("racks", {"site": "nowhere", "name": "R1"}, "site"),
    ("racks", {"site": "ams1", "name": "R01"}, "non_field_errors"),  # unique per site
    ("racks", {"site": "ams1", "name": "R9", "u_height": 0}, "u_height"),
    ("roles", {"name": "Web", "slug": "web", "naming_scheme": 999999}, "naming_scheme"),
    ("naming-schemes", {"name": "Bad", "names": ["Not Valid", "ok"]}, "names"),
    ("naming-schemes", {"name": "Twice", "names": ["a", "a"]}, "names"),
    ("naming-schemes", {"name": "Wrong type", "names": "zeus"}, "names"),
    ("tags", {"name": "Red", "slug": "red", "color": "red"}, "color"),
    ("interfaces", {"host": 999999, "name": "eth0"}, "host"),
    ("interfaces", {"host": "{host}", "name": "eth0", "mac_address": "nope"}, "mac_address"),
    ("interfaces", {"host": "{host}", "name": "eth0", "ip_address": "300.1.1.1"}, "ip_address"),
    ("journal", {"host": "{host}", "text": ""}, "text"),
    ("journal", {"host": "{host}", "text": "x", "kind": "status"}, "kind"),
    ("journal", {"host": 999999, "text": "x"}, "host"),
]


@pytest.mark.parametrize("endpoint, model, body, lookup", CREATES)
def test_admin_creates_reference_data(admin_api, site, endpoint, model, body, lookup):
    response = admin_api.post(f"{API}/{endpoint}/", body, format="json")
    assert response.status_code == 201, response.json()
    stored = model.objects.get(**lookup)
    assert response.json()["id"] == stored.pk


@pytest.mark.parametrize("endpoint, body, field", BAD_INPUT)
def test_bad_input_gives_field_errors(admin_api, host, endpoint, body, field):
    body = {key: host.pk if value == "{host}" else value for key, value in body.items()}
    response = admin_api.post(f"{API}/{endpoint}/", body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()


@pytest.mark.parametrize("body", ["not json at all", '["a", "list"]', "42"])
def test_malformed_bodies_are_400(admin_api, db, body):
    response = admin_api.post(f"{API}/sites/", body, content_type="application/json")
    assert response.status_code == 400


def test_form_encoded_bodies_are_refused(admin_api, db):
    response = admin_api.post(f"{API}/sites/", {"name": "X", "slug": "x"}, format="multipart")
    assert response.status_code == 415


def test_rack_update_keeps_site_by_slug(admin_api, rack):
    response = admin_api.patch(f"{API}/racks/{rack.pk}/", {"description": "Row A"}, format="json")
    assert response.status_code == 200
    assert response.json()["site"] == "ams1"


def test_rack_filter_by_site(viewer_api, rack):
    Rack.objects.create(site=Site.objects.create(name="Frankfurt", slug="fra1"), name="F01")
    rows = viewer_api.get(f"{API}/racks/?site=fra1").json()["results"]
    assert [row["name"] for row in rows] == ["F01"]


@pytest.mark.parametrize("query, expected", [("q=amster", ["ams1"]), ("q=nothing", []), ("slug=ams1", ["ams1"])])
def test_site_search(viewer_api, site, query, expected):
    assert [row["slug"] for row in viewer_api.get(f"{API}/sites/?{query}").json()["results"]] == expected


# --- suggest next name -----------------------------------------------------------


def test_next_name_skips_names_in_use(viewer_api, site, app_role):
    app_role.naming_scheme = NamingScheme.objects.create(name="Solar", names=["mercury", "venus", "earth"])
    app_role.save()
    Host.objects.create(hostname="mercury", site=site)
    response = viewer_api.get(f"{API}/roles/{app_role.pk}/next-name/")
    assert response.status_code == 200
    assert response.json() == {"role": "app", "naming_scheme": "Solar", "name": "venus"}


def test_next_name_is_null_without_a_scheme_or_free_name(viewer_api, site, app_role):
    assert viewer_api.get(f"{API}/roles/{app_role.pk}/next-name/").json()["name"] is None
    app_role.naming_scheme = NamingScheme.objects.create(name="Tiny", names=["pluto"])
    app_role.save()
    Host.objects.create(hostname="pluto", site=site)
    assert viewer_api.get(f"{API}/roles/{app_role.pk}/next-name/").json()["name"] is None


@pytest.mark.parametrize("client_name, expected", [("anon_api", 401), ("viewer_api", 404)])
def test_next_name_auth_and_unknown_role(request, db, client_name, expected):
    client = request.getfixturevalue(client_name)
    assert client.get(f"{API}/roles/987654/next-name/").status_code == expected


def test_next_name_refuses_users_without_role(nobody, app_role):
    from tests.conftest import token_client

    assert token_client(nobody).get(f"{API}/roles/{app_role.pk}/next-name/").status_code == 403


# --- interfaces and journal ------------------------------------------------------


def test_operator_adds_an_interface_with_an_upper_case_mac(operator_api, host):
    response = operator_api.post(
        f"{API}/interfaces/", {"host": host.pk, "name": "eth1", "mac_address": "52:54:00:AA:BB:CC"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert Interface.objects.get(host=host, name="eth1").mac_address == "52:54:00:aa:bb:cc"
    duplicate = operator_api.post(f"{API}/interfaces/", {"host": host.pk, "name": "eth1"}, format="json")
    assert duplicate.status_code == 400
    assert "non_field_errors" in duplicate.json()


def test_interface_filter_by_host(viewer_api, host, site):
    other = Host.objects.create(hostname="io", site=site)
    Interface.objects.create(host=host, name="eth0")
    Interface.objects.create(host=other, name="eth0")
    rows = viewer_api.get(f"{API}/interfaces/?host={other.pk}").json()["results"]
    assert [(row["host"], row["name"]) for row in rows] == [(other.pk, "eth0")]


def test_journal_entry_author_is_the_api_user(operator_api, operator, host):
    response = operator_api.post(
        f"{API}/journal/", {"host": host.pk, "kind": "incident", "text": "Marvin is dead"}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["author"], body["hostname"], body["kind"]) == ("otto-operator", "luna", "incident")
    assert JournalEntry.objects.get(pk=body["id"]).author == operator


def test_journal_filters(viewer_api, host, site):
    other = Host.objects.create(hostname="io", site=site)
    JournalEntry.objects.create(host=host, text="PSU replaced", kind="repair")
    JournalEntry.objects.create(host=other, text="Racked")
    assert [e["text"] for e in viewer_api.get(f"{API}/journal/?host={host.pk}").json()["results"]] == ["PSU replaced"]
    assert [e["text"] for e in viewer_api.get(f"{API}/journal/?hostname=io").json()["results"]] == ["Racked"]
    assert [e["text"] for e in viewer_api.get(f"{API}/journal/?kind=repair").json()["results"]] == ["PSU replaced"]
    assert viewer_api.get(f"{API}/journal/?host=abc").status_code == 400


# --- input PostgreSQL cannot even compare is a 400, not a 500 (found by the fuzz run) --


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("post", "racks/", {"site": "ams\x00", "name": "R5"}),
        ("post", "hosts/", {"hostname": "io", "site": "ams1", "tags": ["a\x00"]}),
        ("get", "hosts/?role=a%00b", None),
        ("get", "sites/?q=%00", None),
        ("get", "interfaces/?ip_address=not-an-ip", None),
    ],
)
def test_input_the_database_cannot_compare_is_a_400(admin_api, site, method, path, body):
    response = getattr(admin_api, method)(f"{API}/{path}", body, format="json") if body else admin_api.get(f"{API}/{path}")
    assert response.status_code == 400, response.content


@pytest.mark.parametrize("path", ["/api/inventory/hosts/1.5e-3/", "/api/nothing/here/", "/api/inventory/hosts/a/b/"])
def test_unmatched_api_urls_answer_json_404(admin_api, path):
    response = admin_api.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


# --- every list runs a fixed number of queries ------------------------------------


def add_objects(endpoint, site, start, count):
    """`count` more objects for the endpoint's list, each with what its serializer reads."""
    for n in range(start, start + count):
        if endpoint in ("interfaces", "journal"):
            host = Host.objects.create(hostname=f"h{n}", site=site)
            Interface.objects.create(host=host, name="eth0", ip_address=f"10.0.0.{n + 1}")
            JournalEntry.objects.create(host=host, text=f"entry {n}")
        elif endpoint == "racks":
            Rack.objects.create(site=Site.objects.create(name=f"Site {n}", slug=f"s{n}"), name=f"R{n}")
        elif endpoint == "roles":
            scheme = NamingScheme.objects.create(name=f"Scheme {n}", names=[f"n{n}"])
            Role.objects.create(name=f"Role {n}", slug=f"r{n}", naming_scheme=scheme)
        elif endpoint == "naming-schemes":
            NamingScheme.objects.create(name=f"Scheme {n}", names=[f"n{n}"])
        elif endpoint == "sites":
            Site.objects.create(name=f"Site {n}", slug=f"s{n}")
        elif endpoint == "tags":
            Tag.objects.create(name=f"Tag {n}", slug=f"t{n}")


@pytest.mark.parametrize("endpoint", ["sites", "racks", "roles", "naming-schemes", "tags", "interfaces", "journal"])
def test_list_query_count_does_not_grow(viewer_api, site, endpoint, django_assert_max_num_queries):
    add_objects(endpoint, site, 0, 2)
    with django_assert_max_num_queries(8) as few:
        assert viewer_api.get(f"{API}/{endpoint}/?limit=100").status_code == 200
    add_objects(endpoint, site, 2, 30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert viewer_api.get(f"{API}/{endpoint}/?limit=100").json()["count"] >= 32
