"""Console pages of the core app: jobs (live progress, cancel), change log, roles, error pages."""

import re

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.jobs import create_job
from core.models import Job
from inventory.models import Host, Role, Site

HTMX = {"HTTP_HX_REQUEST": "true"}


def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def running_job(operator, host):
    job = create_job("hypervisors.sync", "Sync VMs from luna", user=operator, target=host)
    Job.objects.filter(pk=job.pk).update(state="running", progress=45, message="Listing domains", log="10:00:00 Connected\n")
    job.refresh_from_db()
    return job


def console_pages(host, job):
    return [
        reverse("dashboard"),
        reverse("job_list"),
        reverse("job_detail", args=[job.pk]),
        reverse("job_progress", args=[job.pk]),
        reverse("changelog"),
        reverse("inventory:host_list"),
        reverse("inventory:host_detail", args=[host.pk]),
        reverse("inventory:site_list"),
        reverse("inventory:site_detail", args=[host.site_id]),
        reverse("inventory:rack_detail", args=[host.rack_id]),
        reverse("inventory:role_list"),
    ]


def test_every_console_page_renders_for_a_viewer(client, viewer, host, running_job):
    client = logged_in(client, viewer)
    for url in console_pages(host, running_job):
        assert client.get(url).status_code == 200, url


def test_anonymous_is_redirected_to_login(client, host, running_job):
    for url in console_pages(host, running_job):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login") + "?next="), url


def test_user_without_role_gets_a_friendly_403_everywhere(client, nobody, host, running_job):
    client = logged_in(client, nobody)
    for url in console_pages(host, running_job):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "has no console role" in response.content.decode(), url
    assert client.get(reverse("login")).status_code == 200


def test_a_missing_page_is_a_console_page_with_a_way_on(client, viewer):
    client = logged_in(client, viewer)
    for url in ("/inventory/nowhere/", reverse("inventory:host_detail", args=[987654])):
        response = client.get(url)
        html = response.content.decode()
        assert response.status_code == 404, url
        assert 'id="not-found"' in html and f"<code>{url}</code>" in html
        assert f'action="{reverse("inventory:host_list")}"' in html  # search the inventory from here
    api = client.get("/api/nowhere/")
    assert api.status_code == 404 and api.json() == {"detail": "Not found."}  # the API stays JSON


@pytest.mark.urls("tests.core.urls_failing")
def test_a_server_error_is_a_plain_page_that_says_what_to_do(client, viewer):
    client.raise_request_exception = False
    response = logged_in(client, viewer).get("/failing/")
    html = response.content.decode()
    assert response.status_code == 500
    assert 'id="server-error"' in html and "a bug" not in html  # no internals shown


@pytest.fixture
def empty_changelog(db):
    """Other apps' data migrations may leave change-log entries behind; start from none."""
    LogEntry.objects.all().delete()


# --- jobs ------------------------------------------------------------------------------------


def test_job_list_shows_progress_and_filters_by_state(client, viewer, running_job, operator):
    done = create_job("inventory.import", "Import hosts.csv", user=operator)
    Job.objects.filter(pk=done.pk).update(state="succeeded", progress=100)
    client = logged_in(client, viewer)
    html = client.get(reverse("job_list")).content.decode()
    assert 'id="job-table"' in html and "Sync VMs from luna" in html and "Import hosts.csv" in html
    running_only = client.get(reverse("job_list"), {"state": "running"}).content.decode()
    assert "Sync VMs from luna" in running_only and "Import hosts.csv" not in running_only


def test_job_detail_shows_live_progress_message_state_and_log(client, viewer, running_job, host):
    html = logged_in(client, viewer).get(reverse("job_detail", args=[running_job.pk])).content.decode()
    assert f'hx-get="{reverse("job_progress", args=[running_job.pk])}"' in html
    assert 'hx-trigger="every 1s"' in html
    assert 'aria-valuenow="45"' in html and "Listing domains" in html and "10:00:00 Connected" in html
    assert 'data-state="running"' in html
    assert host.get_absolute_url() in html  # the target
    assert 'id="job-cancel"' not in html  # viewers cannot cancel


def test_job_progress_partial_follows_the_job_and_stops_polling_when_finished(client, viewer, running_job):
    client = logged_in(client, viewer)
    url = reverse("job_progress", args=[running_job.pk])
    partial = client.get(url, **HTMX).content.decode()
    assert partial.lstrip().startswith('<div id="job-status"') and "<html" not in partial
    assert 'hx-trigger="every 1s"' in partial and "45%" in partial
    Job.objects.filter(pk=running_job.pk).update(progress=80, message="Almost there")
    partial = client.get(url, **HTMX).content.decode()
    assert "80%" in partial and "Almost there" in partial and "hx-trigger" in partial
    Job.objects.filter(pk=running_job.pk).update(state="succeeded", progress=100, message="Done")
    partial = client.get(url, **HTMX).content.decode()
    assert "100%" in partial and 'data-state="succeeded"' in partial
    assert "hx-trigger" not in partial


def test_operator_cancels_a_pending_job(client, operator):
    job = create_job("x", "Waiting job", user=operator)
    client = logged_in(client, operator)
    assert 'id="job-cancel"' in client.get(reverse("job_detail", args=[job.pk])).content.decode()
    response = client.post(reverse("job_cancel", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.state == "cancelled"


def test_operator_cancels_a_running_job_with_htmx(client, operator, running_job):
    response = logged_in(client, operator).post(reverse("job_cancel", args=[running_job.pk]), **HTMX)
    assert response.status_code == 200 and "Cancelling" in response.content.decode()
    running_job.refresh_from_db()
    assert running_job.cancel_requested and running_job.state == "running"


def test_viewer_cannot_cancel(client, viewer, running_job):
    assert logged_in(client, viewer).post(reverse("job_cancel", args=[running_job.pk])).status_code == 403
    running_job.refresh_from_db()
    assert not running_job.cancel_requested


# --- change log -----------------------------------------------------------------------------


def edit_host_in_console(client, host, **changes):
    data = {
        "hostname": host.hostname, "status": host.status, "site": host.site_id, "role": host.role_id or "",
        "rack": host.rack_id or "", "position": host.position or "", "u_height": host.u_height,
        "cpu_sockets": host.cpu_sockets, "cpu_cores": host.cpu_cores, "memory_mib": host.memory_mib,
        "interfaces-TOTAL_FORMS": 0, "interfaces-INITIAL_FORMS": 0,
    }  # fmt: skip
    data.update(changes)
    response = client.post(reverse("inventory:host_edit", args=[host.pk]), data)
    assert response.status_code == 302, response.content.decode()


def test_changelog_shows_console_changes_attributed_with_before_and_after(client, operator, viewer, host):
    db = Role.objects.create(name="Database server", slug="db")
    edit_host_in_console(logged_in(client, operator), host, owner="dba", role=db.pk)
    html = logged_in(client, viewer).get(reverse("changelog")).content.decode()
    row = re.search(r'<tr data-action="update">.*?</tr>', html, re.S).group(0)
    assert "otto-operator" in row and "luna" in row
    # Foreign keys are shown by name, not by id.
    assert re.search(r'Role</span>\s*<del class="change-before">App server</del>.*?<ins class="change-after">Database server</ins>', row, re.S)
    assert re.search(r'Owner</span>\s*<del class="change-before">∅</del>.*?<ins class="change-after">dba</ins>', row, re.S)


def test_changelog_filters_by_model_actor_action_and_object(empty_changelog, client, viewer, operator, admin_user, site):
    with set_actor(operator):
        Host.objects.create(hostname="luna", site=site)
    with set_actor(admin_user):
        Host.objects.create(hostname="titan", site=site)
        Role.objects.create(name="Web", slug="web")
    client = logged_in(client, viewer)

    def objects(**params):
        response = client.get(reverse("changelog"), params)
        assert response.status_code == 200
        return sorted(entry.object_repr for entry in response.context["entries"])

    assert objects() == ["Amsterdam DC1", "Web", "luna", "titan"]
    assert objects(model="inventory.host") == ["luna", "titan"]
    assert objects(actor="ada-admin") == ["Web", "titan"]
    assert objects(object="tit") == ["titan"]
    assert objects(action=0, model="inventory.role") == ["Web"]
    assert objects(action=1) == []


def test_changelog_bad_filter_values_are_not_a_500(client, viewer):
    client = logged_in(client, viewer)
    response = client.get(reverse("changelog"), {"model": "nope.nothing", "actor": "ghost", "action": "x"})
    assert response.status_code == 200
    assert list(response.context["entries"]) == []


def count_changelog_queries(client):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("changelog")).status_code == 200
    return len(queries)


def test_changelog_query_count_does_not_grow_with_entries(empty_changelog, client, viewer, operator, site, app_role, rack):
    client = logged_in(client, viewer)
    with set_actor(operator):
        Host.objects.create(hostname="h0", site=site, role=app_role, rack=rack)
    few = count_changelog_queries(client)
    with set_actor(operator):
        for i in range(1, 20):
            Host.objects.create(hostname=f"h{i}", site=site, role=app_role, rack=rack)
    assert count_changelog_queries(client) == few


def test_changelog_paginates(client, viewer, operator, empty_changelog):
    with set_actor(operator):
        for i in range(55):
            Site.objects.create(name=f"Site {i}", slug=f"site-{i}")
    client = logged_in(client, viewer)
    assert len(client.get(reverse("changelog")).context["entries"]) == 50
    assert len(client.get(reverse("changelog"), {"page": 2}).context["entries"]) == 5
