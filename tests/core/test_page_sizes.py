"""Never a 500 for a page size a client asks: the console's lists keep `per_page` within
1..MAX_PAGE_SIZE (core.tables.Table), the API answers a field error for a `limit` or
`offset` that is no whole number or below its minimum and cuts a huge limit to the
maximum (core.api.pagination)."""

import uuid

import pytest
from django.urls import reverse

from core.api.pagination import LimitOffsetPagination
from core.jobs import create_job
from hypervisors.models import VirtualMachine
from inventory.models import Host

HUGE = "1" * 30


def make_hosts(site):
    return [Host.objects.create(hostname=name, site=site, status="active") for name in ("luna", "saturn", "jupiter")]


def make_vms(site):
    return [VirtualMachine.objects.create(uuid=uuid.uuid4(), name=name, state="running") for name in ("a", "b", "c")]


def make_jobs(site):
    return [create_job("inventory.import", f"Import {n}") for n in range(3)]


LISTS = {
    "inventory:host_list": (make_hosts, lambda host: host.get_absolute_url()),
    "hypervisors:vm_list": (make_vms, lambda vm: vm.get_absolute_url()),
    "job_list": (make_jobs, lambda job: reverse("job_detail", args=[job.pk])),
}


def rows_shown(response, objects, url_of):
    html = response.content.decode()
    return [obj for obj in objects if f'href="{url_of(obj)}"' in html]


@pytest.mark.parametrize("list_name", LISTS)
@pytest.mark.parametrize("per_page", ["-1", "0", "ten", "1.5", HUGE])
def test_console_lists_show_a_page_whatever_per_page_says(client, viewer, site, list_name, per_page):
    make, url_of = LISTS[list_name]
    objects = make(site)
    client.force_login(viewer)
    for page in ("1", "2", "-3"):
        response = client.get(reverse(list_name), {"per_page": per_page, "page": page})
        assert response.status_code == 200, page
        assert len(rows_shown(response, objects, url_of)) == 3  # the default 50, or all of them


@pytest.mark.parametrize("list_name", LISTS)
def test_console_lists_show_at_most_the_maximum_page_size(client, viewer, site, list_name, monkeypatch):
    monkeypatch.setattr("core.pagination.MAX_PAGE_SIZE", 2)
    make, url_of = LISTS[list_name]
    objects = make(site)
    client.force_login(viewer)
    first = rows_shown(client.get(reverse(list_name), {"per_page": HUGE}), objects, url_of)
    second = rows_shown(client.get(reverse(list_name), {"per_page": HUGE, "page": 2}), objects, url_of)
    assert len(first) == 2
    assert len(second) == 1
    assert set(first) | set(second) == set(objects)


HOSTS_API = "/api/inventory/hosts/"


@pytest.mark.parametrize(("name", "value"), [
    ("limit", "-1"), ("limit", "0"), ("limit", "ten"), ("limit", "1.5"),
    ("offset", "-1"), ("offset", "ten"), ("offset", "2e3"),
])
def test_api_page_parameters_that_are_no_page_are_field_errors(viewer_api, site, name, value):
    make_hosts(site)
    response = viewer_api.get(HOSTS_API, {name: value})
    assert response.status_code == 400
    assert list(response.json()) == [name]
    assert response.json()[name][0].endswith(".")


def test_api_huge_limit_and_offset_are_answered(viewer_api, site):
    hosts = make_hosts(site)
    response = viewer_api.get(HOSTS_API, {"limit": HUGE})  # a 500 on PostgreSQL (LIMIT beyond bigint)
    assert response.status_code == 200
    assert response.json()["count"] == len(hosts) == len(response.json()["results"])
    response = viewer_api.get(HOSTS_API, {"offset": HUGE})
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert viewer_api.get(HOSTS_API, {"limit": "", "offset": ""}).status_code == 200  # empty: the defaults


def test_api_limit_is_cut_to_the_maximum(viewer_api, site, monkeypatch):
    monkeypatch.setattr(LimitOffsetPagination, "max_limit", 2)
    make_hosts(site)
    page = viewer_api.get(HOSTS_API, {"limit": HUGE}).json()
    assert len(page["results"]) == 2
    assert "limit=2" in page["next"]


def test_api_schema_documents_the_page_parameters(viewer_api):
    schema = viewer_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    parameters = {p["name"]: p for p in schema["paths"][HOSTS_API]["get"]["parameters"]}
    assert parameters["limit"]["schema"] == {"type": "integer", "minimum": 1}
    assert "at most 1000" in parameters["limit"]["description"]
    assert parameters["offset"]["schema"] == {"type": "integer", "minimum": 0}
