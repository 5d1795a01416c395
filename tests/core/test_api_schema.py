"""The OpenAPI schema generates cleanly, the docs work offline, and /api/users/me/."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command

from tests.conftest import token_client

EXPECTED_PATHS = [
    "/api/inventory/hosts/", "/api/inventory/hosts/{id}/", "/api/inventory/sites/", "/api/inventory/racks/",
    "/api/inventory/roles/", "/api/inventory/roles/{id}/next-name/", "/api/inventory/naming-schemes/",
    "/api/inventory/tags/", "/api/inventory/interfaces/", "/api/inventory/journal/", "/api/inventory/ansible/",
    "/api/jobs/", "/api/jobs/{id}/cancel/", "/api/changelog/", "/api/users/me/",
]


def test_schema_generates_without_warnings_or_errors(tmp_path, db):
    # --fail-on-warn turns any drf-spectacular warning or error into a failure;
    # --validate checks the result against the OpenAPI 3 meta-schema.
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "openapi:" in out.read_text()


def test_schema_endpoint_lists_every_api(viewer_api):
    response = viewer_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    missing = [path for path in EXPECTED_PATHS if path not in schema["paths"]]
    assert not missing
    host_fields = schema["components"]["schemas"]["Host"]["properties"]
    assert "bmc_password" not in host_fields
    assert schema["components"]["schemas"]["HostRequest"]["properties"]["bmc_password"]["writeOnly"] is True
    assert set(schema["paths"]["/api/inventory/hosts/"]) >= {"get", "post", "patch"}
    assert {"400", "401", "403", "404"} <= set(schema["paths"]["/api/inventory/hosts/{id}/"]["patch"]["responses"])


def test_docs_load_their_assets_from_our_own_static(viewer):
    from django.test import Client

    client = Client()
    client.force_login(viewer)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    # Swagger UI's start-up script is the page's own (the split view: no inline script).
    assert "/api/docs/?script=" in assets
    for asset in (a for a in assets if a != "/api/docs/?script="):
        assert asset.startswith("/static/"), f"{asset} is not served by the app"
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not in our static files"
    external = re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, flags=re.I)
    assert not external, f"the docs page references external hosts: {external}"


def test_docs_need_login(anon_api):
    assert anon_api.get("/api/docs/").status_code == 401
    assert anon_api.get("/api/schema/").status_code == 401


@pytest.mark.parametrize("fixture, role", [("viewer", "viewer"), ("operator", "operator"), ("admin_user", "admin"),
                                           ("nobody", None)])
def test_current_user(request, fixture, role):
    user = request.getfixturevalue(fixture)
    response = token_client(user).get("/api/users/me/")
    if role is None:
        assert response.status_code == 403  # no role: sees nothing, not even itself
        return
    assert response.status_code == 200
    assert (response.json()["username"], response.json()["role"]) == (user.username, role)


def test_current_user_needs_authentication(anon_api):
    assert anon_api.get("/api/users/me/").status_code == 401
