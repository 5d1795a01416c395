"""Who may do what on every inventory endpoint: anonymous 401, no role 403, viewers
read only, operators write hosts/interfaces/journal, admins write reference data and
delete; unknown objects 404. The journal is append-only: nobody changes or deletes an
entry (405)."""

import pytest

from inventory.models import Interface, JournalEntry, NamingScheme, Tag

API = "/api/inventory"

# endpoint -> (role allowed to write it, role allowed to delete)
ENDPOINTS = {
    "hosts": ("operator", "admin"),
    "interfaces": ("operator", "admin"),
    "journal": ("operator", "admin"),
    "sites": ("admin", "admin"),
    "racks": ("admin", "admin"),
    "roles": ("admin", "admin"),
    "naming-schemes": ("admin", "admin"),
    "tags": ("admin", "admin"),
}
RANK = {"viewer": 1, "operator": 2, "admin": 3}
APPEND_ONLY = {"journal"}
CHANGEABLE = [endpoint for endpoint in ENDPOINTS if endpoint not in APPEND_ONLY]


@pytest.fixture
def objects(host):
    """One object of each kind, by endpoint."""
    scheme = NamingScheme.objects.create(name="Solar bodies", names=["sol", "luna"])
    return {
        "hosts": host,
        "interfaces": Interface.objects.create(host=host, name="eth0"),
        "journal": JournalEntry.objects.create(host=host, text="Racked"),
        "sites": host.site,
        "racks": host.rack,
        "roles": host.role,
        "naming-schemes": scheme,
        "tags": Tag.objects.create(name="Prod", slug="prod"),
    }


@pytest.fixture
def clients(anon_api, viewer_api, operator_api, admin_api, nobody):
    from tests.conftest import token_client

    return {"anonymous": anon_api, "nobody": token_client(nobody), "viewer": viewer_api,
            "operator": operator_api, "admin": admin_api}


def url(endpoint, obj=None):
    return f"{API}/{endpoint}/" if obj is None else f"{API}/{endpoint}/{obj.pk}/"


@pytest.mark.parametrize("endpoint", [*ENDPOINTS, "ansible"])
def test_anonymous_gets_401_with_a_token_challenge(anon_api, endpoint):
    response = anon_api.get(url(endpoint))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("endpoint", [*ENDPOINTS, "ansible"])
def test_user_without_role_gets_403(clients, objects, endpoint):
    assert clients["nobody"].get(url(endpoint)).status_code == 403


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_viewer_reads_list_and_detail(viewer_api, objects, endpoint):
    listed = viewer_api.get(url(endpoint))
    assert listed.status_code == 200
    assert objects[endpoint].pk in [row["id"] for row in listed.json()["results"]]
    assert viewer_api.get(url(endpoint, objects[endpoint])).json()["id"] == objects[endpoint].pk


@pytest.mark.parametrize("endpoint", CHANGEABLE)
def test_unknown_object_is_404(viewer_api, admin_api, db, endpoint):
    assert viewer_api.get(f"{API}/{endpoint}/987654/").status_code == 404
    assert admin_api.patch(f"{API}/{endpoint}/987654/", {}, format="json").status_code == 404
    assert admin_api.delete(f"{API}/{endpoint}/987654/").status_code == 404


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
@pytest.mark.parametrize("endpoint", CHANGEABLE)
def test_write_needs_the_write_role(clients, objects, endpoint, role):
    """A PATCH that changes nothing: allowed (200) or refused (403) purely on role."""
    response = clients[role].patch(url(endpoint, objects[endpoint]), {}, format="json")
    allowed = RANK[role] >= RANK[ENDPOINTS[endpoint][0]]
    assert response.status_code == (200 if allowed else 403), response.content


@pytest.mark.parametrize("role", ["viewer", "operator"])
@pytest.mark.parametrize("endpoint", CHANGEABLE)
def test_only_admins_delete(clients, objects, endpoint, role):
    assert clients[role].delete(url(endpoint, objects[endpoint])).status_code == 403
    assert type(objects[endpoint]).objects.filter(pk=objects[endpoint].pk).exists()


@pytest.mark.parametrize("role", ["operator", "admin"])
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_nobody_changes_or_deletes_a_journal_entry(clients, objects, role, method):
    entry = objects["journal"]
    response = getattr(clients[role], method)(url("journal", entry), {"text": "forged"}, format="json")
    assert response.status_code == 405
    assert JournalEntry.objects.get(pk=entry.pk).text == "Racked"


@pytest.mark.parametrize("endpoint", ["interfaces", "tags", "naming-schemes"])
def test_admin_deletes(admin_api, objects, endpoint):
    assert admin_api.delete(url(endpoint, objects[endpoint])).status_code == 204
    assert not type(objects[endpoint]).objects.filter(pk=objects[endpoint].pk).exists()


@pytest.mark.parametrize("endpoint", ["sites", "racks", "roles"])
def test_deleting_what_hosts_still_use_is_a_409(admin_api, objects, endpoint):
    response = admin_api.delete(url(endpoint, objects[endpoint]))
    assert response.status_code == 409
    assert "luna" in response.json()["detail"]


def test_session_auth_works_too(client, viewer, host):
    client.force_login(viewer)
    assert client.get(url("hosts")).status_code == 200
