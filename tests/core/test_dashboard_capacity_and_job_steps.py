"""The dashboard's hypervisor capacity card (allocated against physical, with overcommit,
per site) and the job page's per-step progress bars (child jobs), live through HTMX."""

import re
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.jobs import create_job
from core.models import Job
from hypervisors.models import Hypervisor, VirtualMachine
from inventory.models import Host, Site

HTMX = {"HTTP_HX_REQUEST": "true"}


def logged_in(client, user):
    client.force_login(user)
    return client


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


# --- capacity card -------------------------------------------------------------------------


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


def count_dashboard_queries(client):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("dashboard")).status_code == 200
    return len(queries)


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


# --- job steps -------------------------------------------------------------------------------


@pytest.fixture
def evacuation(operator):
    parent = create_job("hypervisors.evacuate", "Evacuate rhine", user=operator)
    Job.objects.filter(pk=parent.pk).update(state="running", progress=40)
    steps = []
    for name, state, progress, message in [("luna", "succeeded", 100, "Done"),
                                           ("io", "running", 55, "30 MiB sent, 25 MiB left"),
                                           ("europa", "pending", 0, "")]:
        child = create_job("hypervisors.live_migrate", f"Migrate {name} to danube", user=operator, parent=parent)
        Job.objects.filter(pk=child.pk).update(state=state, progress=progress, message=message)
        steps.append(child)
    parent.refresh_from_db()
    return parent, steps


def test_a_job_with_steps_shows_a_progress_bar_per_step(client, viewer, evacuation):
    parent, steps = evacuation
    html = logged_in(client, viewer).get(reverse("job_detail", args=[parent.pk])).content.decode()
    assert "1 of 3 finished" in html
    items = re.findall(r'<li class="migration-item" data-job="(\d+)" data-state="(\w+)" data-progress="(\d+)"', html)
    assert items == [(str(steps[0].pk), "succeeded", "100"), (str(steps[1].pk), "running", "55"),
                     (str(steps[2].pk), "pending", "0")]
    assert "30 MiB sent, 25 MiB left" in html and "Waiting for its turn" in html
    assert f'hx-get="{reverse("job_progress", args=[parent.pk])}"' in html
    child_page = client.get(reverse("job_detail", args=[steps[1].pk])).content.decode()
    assert f'href="{reverse("job_detail", args=[parent.pk])}" id="parent-job"' in child_page
    assert 'id="job-children"' not in child_page  # a job without steps shows no empty list


def test_the_polled_status_follows_the_steps_and_stops_when_all_finished(client, viewer, evacuation):
    parent, steps = evacuation
    client = logged_in(client, viewer)
    url = reverse("job_progress", args=[parent.pk])
    Job.objects.filter(pk=steps[1].pk).update(progress=90, message="4 MiB left")
    partial = client.get(url, **HTMX).content.decode()
    assert 'data-progress="90"' in partial and "4 MiB left" in partial and "hx-trigger" in partial
    Job.objects.filter(parent=parent).update(state="succeeded", progress=100)
    Job.objects.filter(pk=parent.pk).update(state="succeeded", progress=100)
    partial = client.get(url, **HTMX).content.decode()
    assert "3 of 3 finished" in partial and "hx-trigger" not in partial


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, **HTMX).status_code == 200
    return len(queries)


def test_job_steps_cost_the_same_queries_whatever_their_number(client, viewer, evacuation, operator):
    parent, _steps = evacuation
    client = logged_in(client, viewer)
    urls = [reverse("job_detail", args=[parent.pk]), reverse("job_progress", args=[parent.pk])]
    few = [count_queries(client, url) for url in urls]
    for index in range(12):
        create_job("hypervisors.live_migrate", f"Migrate vm{index}", user=operator, parent=parent)
    assert [count_queries(client, url) for url in urls] == few
