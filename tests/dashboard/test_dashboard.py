"""The dashboard at /: failed hosts first, hosts by status, role and site, recent jobs
(polled while one runs) and changes, the hypervisor capacity card (allocated against
physical, with overcommit, per site), all in a number of queries that does not grow."""

import re
import uuid
from decimal import Decimal

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.jobs import create_job
from core.models import Job
from hypervisors.models import Hypervisor, VirtualMachine
from inventory.models import Host, Role, Site
from tests.core.test_console_pages import HTMX, logged_in, running_job  # noqa: F401  running_job: a fixture


def test_the_dashboard_is_at_the_root_and_where_a_login_lands(client, viewer, settings):
    assert reverse("dashboard") == "/" and settings.LOGIN_REDIRECT_URL == "dashboard"
    response = client.post(reverse("login"), {"username": viewer.username, "password": "correct-horse-9"})
    assert response.status_code == 302 and response.url == "/"


@pytest.fixture
def empty_changelog(db):
    """Other apps' data migrations may leave change-log entries behind; start from none."""
    LogEntry.objects.all().delete()


def test_dashboard_empty_state(client, viewer, empty_changelog):
    Job.objects.all().delete()
    html = logged_in(client, viewer).get(reverse("dashboard")).content.decode()
    assert 'id="no-hosts"' in html
    assert "No jobs yet" in html and "No changes recorded yet" in html
    assert 'id="failed-hosts"' not in html


def test_dashboard_lists_failed_hosts_first_and_charts_by_status_role_site(client, viewer, host, site, app_role):
    db = Role.objects.create(name="Database server", slug="db")
    other = Site.objects.create(name="Frankfurt DC2", slug="fra2")
    Host.objects.create(hostname="marvin", site=site, role=db, status="failed")
    Host.objects.create(hostname="batman", site=other, role=db, status="active")
    response = logged_in(client, viewer).get(reverse("dashboard"))
    html = response.content.decode()
    assert html.index('id="failed-hosts"') < html.index('id="hosts-by-status"')
    failed = html[html.index('id="failed-hosts"'):html.index("</section>", html.index('id="failed-hosts"'))]
    assert "marvin" in failed and "luna" not in failed and "batman" not in failed
    context = response.context
    assert {row["label"]: row["count"] for row in context["status_bars"]}["Failed"] == 1
    assert {row["label"]: row["count"] for row in context["role_bars"]} == {"Database server": 2, "App server": 1}
    assert {row["label"]: row["count"] for row in context["site_bars"]} == {"Amsterdam DC1": 2, "Frankfurt DC2": 1}
    assert f'{reverse("inventory:host_list")}?role=db' in html


def test_dashboard_shows_recent_jobs_with_progress_and_polls_while_running(client, viewer, running_job):
    client = logged_in(client, viewer)
    html = client.get(reverse("dashboard")).content.decode()
    assert "Sync VMs from luna" in html and 'aria-valuenow="45"' in html
    assert f'hx-get="{reverse("dashboard_jobs")}"' in html
    Job.objects.filter(pk=running_job.pk).update(state="succeeded", progress=100)
    partial = client.get(reverse("dashboard_jobs"), **HTMX).content.decode()
    assert "hx-trigger" not in partial and 'aria-valuenow="100"' in partial


def test_dashboard_recent_jobs_leave_out_routine_scheduled_successes(client, viewer, operator):
    def job(title, state, user=None):
        made = create_job("health.sweep", title, user=user)
        Job.objects.filter(pk=made.pk).update(state=state)

    job("Scheduled sweep that worked", "succeeded")
    job("Scheduled sweep that failed", "failed")
    job("Sweep someone asked for", "succeeded", user=operator)
    html = logged_in(client, viewer).get(reverse("dashboard")).content.decode()
    assert "Scheduled sweep that worked" not in html
    assert "Scheduled sweep that failed" in html and "Sweep someone asked for" in html


def count_dashboard_queries(client):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("dashboard")).status_code == 200
    return len(queries)


def test_dashboard_query_count_does_not_grow_with_data(client, viewer, site, app_role, operator):
    client = logged_in(client, viewer)
    # Recent changes cost one query per kind of object shown: keep to hosts in both rounds.
    LogEntry.objects.all().delete()
    with set_actor(operator):
        Host.objects.create(hostname="h1", site=site, role=app_role, status="failed")
    create_job("x", "job 1", user=operator)
    few = count_dashboard_queries(client)
    with set_actor(operator):
        for i in range(2, 12):
            Host.objects.create(hostname=f"h{i}", site=site, role=app_role, status="failed")
    for i in range(10):
        create_job("x", f"job {i}", user=operator)
    assert count_dashboard_queries(client) == few


# --- capacity card -------------------------------------------------------------------------


def hypervisor(site, name, cpus=8, memory_mib=8192, cpu_ratio="4", memory_ratio="1.5"):
    host = Host.objects.create(hostname=name, site=site, status="active", cpu_cores=cpus, memory_mib=memory_mib)
    return Hypervisor.objects.create(host=host, uri=f"qemu+tcp://{name}.example/system",
                                     cpu_overcommit=Decimal(cpu_ratio), memory_overcommit=Decimal(memory_ratio))


def vm(hv, name, vcpus, memory_mib, state="running"):
    return VirtualMachine.objects.create(uuid=uuid.uuid4(), name=name, hypervisor=hv, state=state, vcpus=vcpus,
                                         memory_mib=memory_mib)


def card_of(html):
    start = html.index('id="capacity-card"')
    return html[start:html.index("</section>", start)]


def test_capacity_card_empty_state(client, viewer):
    html = logged_in(client, viewer).get(reverse("dashboard")).content.decode()
    card = card_of(html)
    assert 'id="no-capacity"' in card and "No hypervisors yet" in card


def test_capacity_card_shows_allocated_against_physical_per_site(client, viewer, site):
    other = Site.objects.create(name="Frankfurt DC2", slug="fra2")
    rhine, danube = hypervisor(site, "rhine"), hypervisor(site, "danube")
    oder = hypervisor(other, "oder", cpus=2, memory_mib=2048, cpu_ratio="1", memory_ratio="1")
    vm(rhine, "luna", 8, 4096)
    vm(danube, "io", 4, 2048, state="shutoff")  # allocated while shut off: it may start any time
    vm(danube, "ghost", 16, 16384, state="gone")  # not allocated: libvirt no longer has it
    vm(oder, "titan", 3, 1024)

    response = logged_in(client, viewer).get(reverse("dashboard"))
    card = card_of(response.content.decode())
    sites = {site: (count, cpu, memory) for site, count, cpu, memory in response.context["capacity_sites"]}
    count, cpu, memory = sites["Amsterdam DC1"]
    # 16 physical CPUs x 4 = 64 vCPU; 16 GiB x 1.5 = 24 GiB.
    assert (count, cpu.used, cpu.capacity, cpu.physical) == (2, 12, 64, 16)
    assert (memory.used, memory.capacity, memory.physical) == (6144, 24576, 16384)
    assert cpu.percent == 19 and cpu.physical_percent == 25 and cpu.overcommit_text == "0.75× physical"
    count, cpu, memory = sites["Frankfurt DC2"]
    assert (cpu.used, cpu.capacity, cpu.percent, cpu.colour) == (3, 2, 150, "danger")
    assert cpu.overcommit_text == "1.5× physical" and "1 vCPU over" in card

    assert card.count('class="capacity-bar large"') == 4
    assert 'data-site="Amsterdam DC1"' in card and 'data-site="Frankfurt DC2"' in card
    assert "12 / 64 vCPU" in card and "6 / 24 GiB" in card and "from 16 physical CPUs" in card
    # The physical line sits at 25 % of Amsterdam's vCPU bar; Frankfurt has no overcommit, so no line.
    assert re.search(r'class="physical-mark" style="left: 25%"', card)


def test_capacity_card_costs_the_same_queries_for_many_hypervisors_and_sites(client, viewer, site):
    client = logged_in(client, viewer)
    vm(hypervisor(site, "hv0"), "vm0", 1, 512)
    few = count_dashboard_queries(client)
    for index in range(1, 4):
        other = Site.objects.create(name=f"Site {index}", slug=f"s{index}")
        for number in range(3):
            hv = hypervisor(other, f"hv{index}-{number}")
            vm(hv, f"vm{index}-{number}", 2, 1024)
    assert count_dashboard_queries(client) == few
