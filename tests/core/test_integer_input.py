"""Never a 500 for a number a client sends: an integer filter out of its column's range is a
400 on that field (core.filters.IntegerFilter), an id no id column can hold is a 404 before
any view runs (the `id` path converter, core.converters). On SQLite both were an
OverflowError (a 500); these run on SQLite and PostgreSQL alike."""

import re

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import IntConverter, StringConverter
from django.utils import timezone

from access.models import HostKey
from core.converters import IdConverter
from health.models import Alert, CheckResult, CheckSchedule, HostHealth, PortCheck
from inventory.models import Host

HUGE = "1" * 30  # beyond any 64-bit column
BEYOND_BIGINT = str(2**63)  # the first integer no SQLite or PostgreSQL bigint holds


def make_result(host):
    return CheckResult.objects.create(host=host, check_type="ssh", ok=True, checked_at=timezone.now())


def make_alert(host):
    return Alert.objects.create(host=host, event="failed", summary=f"{host} failed")


def make_host_key(host):
    return HostKey.objects.create(host=host, key_type="ssh-ed25519", key="AAAAC3NzaC1lZDI1NTE5",
                                  fingerprint=f"SHA256:{host.hostname}")


def make_schedule(host):
    return CheckSchedule.objects.create(check_type="tcp", host=host, interval_seconds=300)


HOST_FILTERS = {
    "/api/health/results/": make_result,
    "/api/health/alerts/": make_alert,
    "/api/health/host-keys/": make_host_key,
    "/api/health/schedules/": make_schedule,
}


@pytest.fixture
def other_host(site):
    return Host.objects.create(hostname="saturn", site=site, status="active")


@pytest.mark.parametrize("url", HOST_FILTERS)
def test_host_filter_finds_the_hosts_objects_and_refuses_what_no_id_column_holds(url, admin_api, host, other_host):
    mine, _ = HOST_FILTERS[url](host), HOST_FILTERS[url](other_host)

    response = admin_api.get(url, {"host": host.pk})
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [mine.pk]

    for value in (HUGE, BEYOND_BIGINT, "1.5", "ten"):
        response = admin_api.get(url, {"host": value})
        assert response.status_code == 400, value
        assert list(response.json()) == ["host"]
        assert response.json()["host"][0].endswith(".")  # a sentence, not a traceback


def test_changelog_content_type_filter(admin_api, host):
    host_type = ContentType.objects.get_for_model(Host)
    assert LogEntry.objects.filter(content_type=host_type).exists()
    response = admin_api.get("/api/changelog/", {"content_type": host_type.pk})
    assert response.status_code == 200
    assert {entry["content_type"] for entry in response.json()["results"]} == {"inventory.host"}

    response = admin_api.get("/api/changelog/", {"content_type": HUGE})
    assert response.status_code == 400
    assert "content_type" in response.json()


def test_integer_fields_of_filterset_fields_get_the_range_check_too(admin_api, app_role):
    """The FilterSet DRF builds from a view's `filterset_fields` (here `port`) is ours too."""
    check = PortCheck.objects.create(role=app_role, port=5432, label="PostgreSQL")
    response = admin_api.get("/api/health/port-checks/", {"port": 5432})
    assert [item["id"] for item in response.json()["results"]] == [check.pk]
    response = admin_api.get("/api/health/port-checks/", {"port": HUGE})
    assert response.status_code == 400
    assert "port" in response.json()


def test_filters_of_the_console_lists_never_fail_on_huge_numbers(client, viewer, host):
    client.force_login(viewer)
    for url, params in (("/inventory/hosts/", {"rack": HUGE}), ("/hypervisors/vms/", {"hypervisor": HUGE}),
                        ("/cloud/instance-types/", {"min_vcpus": HUGE, "max_memory_mib": BEYOND_BIGINT})):
        response = client.get(url, params)
        assert response.status_code == 200, url
        assert 'data-hostname="luna"' not in response.content.decode()


@pytest.mark.parametrize("url", [
    f"/api/health/hosts/{HUGE}/series/",
    f"/api/health/hosts/{HUGE}/",
    f"/api/health/hosts/{BEYOND_BIGINT}/",
    f"/migrations/hosts/{HUGE}/card/",
    f"/health/hosts/{HUGE}/",
])
def test_an_id_no_column_holds_is_not_found(url, admin_user, host):
    client = Client()
    client.force_login(admin_user)
    response = client.get(url)
    assert response.status_code == 404
    if url.startswith("/api/"):
        assert response.json() == {"detail": "Not found."}


def test_existing_ids_still_resolve(admin_api, host):
    HostHealth.objects.create(host=host, state="healthy", since=timezone.now())
    assert admin_api.get(f"/api/health/hosts/{host.pk}/").json()["host"] == host.pk
    assert admin_api.get(f"/api/health/hosts/{host.pk}/series/").status_code == 200


# --- every URL of the product, from the resolver: a new URL cannot be forgotten --------------

def url_patterns(patterns=None, prefix=""):
    """(route with <converter:name> placeholders, converters) of every URL pattern."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        converters = {**getattr(pattern.pattern, "converters", {})}
        if isinstance(pattern, URLResolver):
            for route, inner in url_patterns(pattern.url_patterns, prefix + str(pattern.pattern)):
                yield route, {**converters, **inner}
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), converters


def ours(route):
    return not route.startswith("admin/")  # the Django admin's URLs are its own


def test_no_url_takes_an_integer_but_through_the_id_converter():
    offenders = [route for route, converters in url_patterns()
                 if ours(route) and any(isinstance(c, IntConverter) for c in converters.values())]
    assert not offenders
    api_detail_routes = [route for route, converters in url_patterns()
                         if route.startswith("api/") and isinstance(converters.get("pk"), IdConverter)]
    assert len(api_detail_routes) > 60  # the routers' detail URLs use it too


def huge_id_urls():
    urls = []
    for route, converters in url_patterns():
        if not ours(route) or not any(isinstance(c, IdConverter) for c in converters.values()):
            continue
        for name, converter in converters.items():
            assert isinstance(converter, (IdConverter, StringConverter)), f"{route}: no sample for {name}"
            value = HUGE if isinstance(converter, IdConverter) else "pause"
            route = re.sub(rf"<\w+:{name}>", value, route)
        urls.append("/" + route)
    return urls


def test_every_url_with_an_id_answers_404_for_an_id_no_column_holds(admin_user, host):
    urls = huge_id_urls()
    assert len(urls) > 130
    client = Client()
    client.force_login(admin_user)
    answers = {(method, url): getattr(client, method)(url).status_code for url in urls for method in ("get", "post")}
    assert {key: status for key, status in answers.items() if status != 404} == {}


# --- ids the console reads from a query string or a form itself (core.converters.parse_id) -----

@pytest.mark.parametrize("value", ["²", HUGE])  # "²".isdigit() is True, int("²") a ValueError
@pytest.mark.parametrize("url", [
    "/inventory/hosts/add/?role={v}&site={v}&rack={v}&position={v}",
    "/inventory/hosts/name-hint/?role={v}",
    "/inventory/racks/add/?site={v}",
    "/hypervisors/vms/add/?hypervisor={v}&role={v}",
    "/hypervisors/vms/suggest-name/?role={v}",
    "/cloud/sizing/?host={v}&vm={v}&size=1",
])
def test_console_pages_ignore_ids_that_name_nothing(url, value, admin_user, host):
    client = Client()
    client.force_login(admin_user)
    assert client.get(url.format(v=value)).status_code == 200


def test_console_still_reads_the_ids_it_is_given(admin_user, host, app_role):
    client = Client()
    client.force_login(admin_user)
    page = client.get(f"/inventory/hosts/add/?site={host.site_id}&rack={host.rack_id}&position=12").content.decode()
    assert re.search(rf'<option value="{host.rack_id}"[^>]* selected', page)
    sizing = client.get(f"/cloud/sizing/?host={host.pk}&size=1").content.decode()
    assert "luna" in sizing
