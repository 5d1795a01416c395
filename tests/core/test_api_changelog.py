from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.utils import timezone

from inventory.models import Host, Site
from tests.conftest import token_client

CHANGELOG = "/api/changelog/"


@pytest.fixture
def history(operator_api, admin_api, site):
    """A host created by the operator over the API, then a site renamed by the admin."""
    host_id = operator_api.post(
        "/api/inventory/hosts/", {"hostname": "marvin", "site": "ams1"}, format="json"
    ).json()["id"]
    admin_api.patch(f"/api/inventory/sites/{site.pk}/", {"name": "Amsterdam"}, format="json")
    return Host.objects.get(pk=host_id)


def test_entries_show_who_changed_what(viewer_api, history, site):
    rows = viewer_api.get(f"{CHANGELOG}?model=host").json()["results"]
    assert len(rows) == 1
    entry = rows[0]
    assert (entry["action"], entry["actor"], entry["content_type"], entry["object_repr"]) == (
        "create", "otto-operator", "inventory.host", "marvin"
    )
    assert entry["object_pk"] == str(history.pk)
    assert entry["changes"]["hostname"] == ["None", "marvin"]
    site_change = viewer_api.get(f"{CHANGELOG}?model=inventory.site&action=update").json()["results"][0]
    assert site_change["actor"] == "ada-admin"
    assert site_change["changes"]["name"] == ["Amsterdam DC1", "Amsterdam"]


def test_filters(viewer_api, history, site):
    def objects(query):
        return [(e["content_type"], e["object_pk"]) for e in viewer_api.get(f"{CHANGELOG}?{query}").json()["results"]]

    assert objects(f"model=site&object_id={site.pk}") == [("inventory.site", str(site.pk))] * 2
    assert objects("actor=ada-admin") == [("inventory.site", str(site.pk))]
    assert objects("actor=nobody-at-all") == []
    LogEntry.objects.filter(content_type__model="host").update(timestamp=timezone.now() - timedelta(days=10))
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ("inventory.host", str(history.pk)) not in objects(f"since={since.replace('+', '%2B')}")
    until = (timezone.now() - timedelta(days=5)).isoformat()
    assert objects(f"until={until.replace('+', '%2B')}") == [("inventory.host", str(history.pk))]
    content_type = LogEntry.objects.filter(object_repr="marvin").get().content_type_id
    assert objects(f"content_type={content_type}") == [("inventory.host", str(history.pk))]


@pytest.mark.parametrize("query, field", [("since=yesterday", "since"), ("action=explode", "action"),
                                          ("content_type=abc", "content_type")])
def test_bad_filters_are_400(viewer_api, db, query, field):
    response = viewer_api.get(f"{CHANGELOG}?{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_offsets_postgresql_refuses_still_filter(viewer_api, history):
    # ISO 8601 allows a -16:28 offset, PostgreSQL's timestamptz does not: compare in UTC
    response = viewer_api.get(f"{CHANGELOG}?since=2000-01-01T00:00:00-16:28")
    assert response.status_code == 200
    assert response.json()["count"] == LogEntry.objects.count() > 0


def test_detail_and_404(viewer_api, history):
    entry = LogEntry.objects.get(object_repr="marvin")
    assert viewer_api.get(f"{CHANGELOG}{entry.pk}/").json()["object_repr"] == "marvin"
    assert viewer_api.get(f"{CHANGELOG}987654/").status_code == 404


def test_access(anon_api, nobody, admin_api, db):
    Site.objects.create(name="X", slug="x")
    assert anon_api.get(CHANGELOG).status_code == 401
    assert token_client(nobody).get(CHANGELOG).status_code == 403
    assert admin_api.post(CHANGELOG, {}, format="json").status_code == 405  # read-only
    entry = LogEntry.objects.get()
    assert admin_api.delete(f"{CHANGELOG}{entry.pk}/").status_code == 405


def test_changelog_query_count_does_not_grow(viewer_api, operator, django_assert_max_num_queries):
    for n in range(3):
        Site.objects.create(name=f"S{n}", slug=f"s{n}")
    with django_assert_max_num_queries(6) as small:
        viewer_api.get(CHANGELOG)
    for n in range(3, 40):
        Site.objects.create(name=f"S{n}", slug=f"s{n}")
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert viewer_api.get(CHANGELOG).json()["count"] == 40
