"""The OpenAPI schema is what API users read: a real answer's keys are the properties the
schema documents for it, and the values are what the schema says they are."""

import re

import pytest

from hypervisors.api.serializers import MaintenanceAcceptedSerializer
from hypervisors.models import Hypervisor
from inventory.models import Host, HostStatus
from inventory.services import change_status


@pytest.fixture
def schema(viewer_api):
    return viewer_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def documented(schema, path, method, status):
    """(the properties, the component) the schema gives the JSON answer of path/method/status."""
    content = schema["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    name = content["$ref"].rsplit("/", 1)[-1]
    return schema["components"]["schemas"][name]["properties"], name


def test_a_recovery_policy_answer_is_its_schema_and_its_site_a_slug(schema, admin_api, site):
    answer = admin_api.post("/api/health/recovery-policies/", {"site": "ams1", "auto_recover": True}, format="json")
    assert answer.status_code == 201, answer.content
    properties, _ = documented(schema, "/api/health/recovery-policies/", "post", 201)
    assert set(answer.json()) == set(properties)
    site_schema = properties["site"]
    assert site_schema["type"] == "string" and "slug" in site_schema["description"]
    assert re.fullmatch(site_schema["pattern"], answer.json()["site"]) and answer.json()["site"] == "ams1"
    assert re.fullmatch(site_schema["pattern"], "Amsterdam DC1") is None  # a name is not what it takes


def test_a_lab_fence_device_answer_is_its_schema_and_the_schema_says_what_each_agent_uses(schema, admin_api, host):
    answer = admin_api.post("/api/health/fence-devices/", {"host": host.pk, "agent": "lab", "address": "luna"},
                            format="json")
    assert answer.status_code == 201, answer.content
    properties, name = documented(schema, "/api/health/fence-devices/", "post", 201)
    assert set(answer.json()) == set(properties) and "password" not in answer.json()
    description = schema["components"]["schemas"][name]["description"]
    for agent in ("`ipmi`", "`lab`", "`manual`"):
        assert agent in description
    assert properties["lab_root"]["description"].startswith("lab: ")
    assert "lab: the lab host's name" in properties["address"]["description"]


def test_a_repaired_answer_is_the_host_schema(schema, operator_api, host):
    change_status(host, HostStatus.FAILED, reason="dead")
    answer = operator_api.post(f"/api/inventory/hosts/{host.pk}/repaired/", {"note": "fixed"}, format="json")
    assert answer.status_code == 200, answer.content
    properties, name = documented(schema, "/api/inventory/hosts/{id}/repaired/", "post", 200)
    assert name == "Host" and set(answer.json()) == set(properties)


def test_the_maintenance_answer_is_its_schema_with_the_moves(schema, operator_api, host):
    hypervisor = Hypervisor.objects.create(host=host, uri="test+tcp://127.0.0.1:9/default")
    answer = operator_api.post(f"/api/hypervisors/hypervisors/{hypervisor.pk}/maintenance/", {}, format="json")
    assert answer.status_code == 202, answer.content
    properties, name = documented(schema, "/api/hypervisors/hypervisors/{id}/maintenance/", "post", 202)
    assert name == "MaintenanceAccepted" and set(answer.json()) == set(properties) == \
        set(MaintenanceAcceptedSerializer().fields)
    assert answer.json()["moves"] == 0 and properties["moves"]["type"] == "integer"
    assert Host.objects.get(pk=host.pk).status == HostStatus.ACTIVE  # the job (not run here) does the rest
