"""Console pages of hypervisors: list, detail, sync, maintenance (plan, start, progress,
leave), and the role rules on every hypervisor and VM page. No libvirt is contacted:
pages read the database, and actions only create Jobs (whose tasks are recorded, not run)."""

import re
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core import jobs
from core.jobs import create_job
from core.models import Job
from hypervisors.models import Hypervisor, VirtualMachine
from inventory.models import Host, HostStatus, Role, Site

HTMX = {"HTTP_HX_REQUEST": "true"}


# --- fixtures shared with test_console_vms.py ----------------------------------------


@pytest.fixture
def estate(db):
    """Three hypervisors of one site (4 CPUs x 4 = 16 vCPU, 4096 MiB each): two active, one spare."""
    site = Site.objects.create(name="Lab", slug="lab")
    role = Role.objects.create(name="Hypervisor", slug="hypervisor")
    hypervisors = {}
    for index, (name, status) in enumerate([("rhine", "active"), ("danube", "active"), ("thames", "spare")]):
        host = Host.objects.create(hostname=name, site=site, role=role, status=status, cpu_cores=4, memory_mib=4096)
        hypervisors[name] = Hypervisor.objects.create(
            host=host, uri=f"test+tcp://127.0.0.1:{17900 + index}/default", cpus=4, memory_mib=4096,
            connection=Hypervisor.Connection.CONNECTED, shared_storage=True,
        )
    return hypervisors


def make_vm(hypervisor, name, state="running", vcpus=1, memory_mib=512, **fields):
    return VirtualMachine.objects.create(uuid=uuid.uuid4(), name=name, hypervisor=hypervisor, state=state,
                                         vcpus=vcpus, memory_mib=memory_mib, **fields)


@pytest.fixture
def sent(monkeypatch):
    """The tasks the console sends, as (job id, task name), instead of sending them."""
    calls = []

    def record(job, task, **options):
        calls.append((job.pk, task.name))
        return job

    monkeypatch.setattr(jobs, "enqueue", record)
    return calls


def logged_in(client, user):
    client.force_login(user)
    return client


def only_job():
    jobs = list(Job.objects.all())
    assert len(jobs) == 1, jobs
    return jobs[0]


# --- pages and roles ---------------------------------------------------------------------


def page_urls(estate):
    rhine = estate["rhine"]
    vm = make_vm(rhine, "luna")
    off = make_vm(rhine, "pluto", state="shutoff")
    deleted = make_vm(None, "marvin", state=VirtualMachine.State.GONE)  # what deleting a VM leaves
    return {
        "hypervisor list": reverse("hypervisors:hypervisor_list"),
        "hypervisor detail": reverse("hypervisors:hypervisor_detail", args=[rhine.pk]),
        "maintenance card": reverse("hypervisors:hypervisor_maintenance", args=[rhine.pk]),
        "evacuation plan": reverse("hypervisors:evacuation_plan", args=[rhine.pk]),
        "vm list": reverse("hypervisors:vm_list"),
        "vm detail (running)": reverse("hypervisors:vm_detail", args=[vm.pk]),
        "vm detail (shut off)": reverse("hypervisors:vm_detail", args=[off.pk]),
        "vm detail (deleted)": reverse("hypervisors:vm_detail", args=[deleted.pk]),
    }


ACTION_MARKERS = ('id="sync-now"', 'id="plan-maintenance"', 'id="power-form"', 'id="vm-record-form"',
                  'id="start-evacuation"', 'id="migrate"', 'id="resize"', 'id="delete-vm"', 'id="create-vm"')


def test_every_page_renders_for_a_viewer_without_any_action_button(client, viewer, estate):
    logged_in(client, viewer)
    for name, url in page_urls(estate).items():
        response = client.get(url)
        assert response.status_code == 200, name
        html = response.content.decode()
        shown = [marker for marker in ACTION_MARKERS if marker in html]
        assert shown == [], f"{name} shows {shown} to a viewer"


def test_an_operator_sees_the_action_buttons(client, operator, estate):
    urls = page_urls(estate)
    logged_in(client, operator)
    assert 'id="sync-now"' in client.get(urls["hypervisor list"]).content.decode()
    detail = client.get(urls["hypervisor detail"]).content.decode()
    assert 'id="sync-now"' in detail and 'id="plan-maintenance"' in detail
    running = client.get(urls["vm detail (running)"]).content.decode()
    assert 'id="power-shutdown"' in running and 'id="migrate"' in running and 'id="vm-record-form"' in running
    assert 'id="power-start"' not in running and 'id="resize"' not in running
    assert 'id="delete-vm"' not in running  # deleting needs the admin role
    shut_off = client.get(urls["vm detail (shut off)"]).content.decode()
    assert 'id="power-start"' in shut_off and 'id="resize"' in shut_off and 'id="power-shutdown"' not in shut_off


def forbidden_posts(estate):
    rhine = estate["rhine"]
    vm = make_vm(rhine, "luna")
    return [
        reverse("hypervisors:sync_all"),
        reverse("hypervisors:hypervisor_sync", args=[rhine.pk]),
        reverse("hypervisors:evacuation_plan", args=[rhine.pk]),
        reverse("hypervisors:leave_maintenance", args=[rhine.pk]),
        reverse("hypervisors:vm_detail", args=[vm.pk]),
        reverse("hypervisors:vm_power", args=[vm.pk]),
        reverse("hypervisors:vm_migrate", args=[vm.pk]),
        reverse("hypervisors:vm_resize", args=[vm.pk]),
        reverse("hypervisors:vm_delete", args=[vm.pk]),
        reverse("hypervisors:vm_create"),
    ]


def test_a_viewer_gets_403_on_every_post_and_nothing_happens(client, viewer, estate, sent):
    logged_in(client, viewer)
    for url in forbidden_posts(estate):
        response = client.post(url, {"action": "start", "policy": "spread", "parallel": 2, "ha_enabled": "on"})
        assert response.status_code == 403, url
    assert not Job.objects.exists() and sent == []
    assert not VirtualMachine.objects.filter(ha_enabled=True).exists()


def test_action_forms_are_refused_to_a_viewer_before_they_render(client, viewer, operator, estate):
    vm = make_vm(estate["rhine"], "luna")
    logged_in(client, viewer)
    for name in ("vm_migrate", "vm_resize", "vm_delete"):
        assert client.get(reverse(f"hypervisors:{name}", args=[vm.pk])).status_code == 403, name
    assert client.get(reverse("hypervisors:vm_create")).status_code == 403
    logged_in(client, operator)
    assert client.get(reverse("hypervisors:vm_delete", args=[vm.pk])).status_code == 403


def test_pages_need_a_login(client, estate):
    response = client.get(reverse("hypervisors:hypervisor_list"))
    assert response.status_code == 302 and "/login/" in response["Location"]


# --- hypervisor list and detail ---------------------------------------------------------


def test_list_shows_connection_status_vm_count_and_coloured_capacity_bars(client, viewer, estate):
    rhine, danube, thames = estate["rhine"], estate["danube"], estate["thames"]
    make_vm(rhine, "luna", memory_mib=3500)  # 85 % of 4096 MiB: warning
    make_vm(danube, "titan", memory_mib=5000)  # over capacity: danger
    make_vm(danube, "ghost", memory_mib=9999, state=VirtualMachine.State.GONE)  # gone: not allocated
    Hypervisor.objects.filter(pk=thames.pk).update(connection=Hypervisor.Connection.UNREACHABLE)

    html = logged_in(client, viewer).get(reverse("hypervisors:hypervisor_list")).content.decode()

    rows = {name: row_html(html, "data-hypervisor", name) for name in ("rhine", "danube", "thames")}
    assert 'data-connection="unreachable"' in rows["thames"] and "Unreachable" in rows["thames"]
    assert "Spare" in rows["thames"] and "Active" in rows["rhine"]
    assert memory_bar(rows["rhine"]) == ("85", "warning")
    assert memory_bar(rows["danube"]) == ("122", "danger")
    assert memory_bar(rows["thames"]) == ("0", "success")
    assert re.search(r'text-end">\s*1\s*</td>', rows["danube"])  # the gone VM is not counted
    assert 'id="unreachable-alert"' in html


def test_list_totals_capacity_per_site(client, viewer, estate):
    other = Site.objects.create(name="Rotterdam", slug="rtm")
    host = Host.objects.create(hostname="maas", site=other, status="active", cpu_cores=2, memory_mib=2048)
    Hypervisor.objects.create(host=host, uri="test+tcp://127.0.0.1:17999/default")
    make_vm(estate["rhine"], "luna", vcpus=6, memory_mib=1024)

    html = logged_in(client, viewer).get(reverse("hypervisors:hypervisor_list")).content.decode()

    lab = section_html(html, 'data-site="Lab"')
    assert "3 hypervisors" in lab and "6 / 48 vCPU" in lab and "1 / 12 GiB" in lab
    rotterdam = section_html(html, 'data-site="Rotterdam"')
    assert "1 hypervisor" in rotterdam and "0 / 8 vCPU" in rotterdam  # inventory cores x the default 4.0


def test_list_costs_the_same_queries_for_many_hypervisors(client, viewer, estate):
    logged_in(client, viewer)
    url = reverse("hypervisors:hypervisor_list")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    site = Site.objects.get(slug="lab")
    for index in range(12):
        host = Host.objects.create(hostname=f"hv{index}", site=site, status="active")
        make_vm(Hypervisor.objects.create(host=host, uri=f"test+tcp://127.0.0.1:{18000 + index}/default"), f"vm{index}")
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).content.decode().count('data-hypervisor="') == 15
    assert len(many) == len(few)


def test_detail_costs_the_same_queries_for_many_vms(client, viewer, estate):
    rhine = estate["rhine"]
    make_vm(rhine, "luna")
    logged_in(client, viewer)
    url = reverse("hypervisors:hypervisor_detail", args=[rhine.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for index in range(15):
        make_vm(rhine, f"vm{index}", state="gone" if index % 3 else "running")
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).content.decode().count('data-vm="') == 16
    assert len(many) == len(few)


def test_detail_shows_libvirt_facts_and_flags_stale_vms(client, viewer, estate):
    rhine = estate["rhine"]
    Hypervisor.objects.filter(pk=rhine.pk).update(libvirt_hostname="rhine.lab", libvirt_version="9.0.0",
                                                  last_error="connection reset by peer")
    make_vm(rhine, "luna")
    make_vm(rhine, "ghost", state=VirtualMachine.State.GONE)
    make_vm(rhine, "limbo", state=VirtualMachine.State.UNKNOWN)

    html = logged_in(client, viewer).get(reverse("hypervisors:hypervisor_detail", args=[rhine.pk])).content.decode()

    assert "rhine.lab" in html and "9.0.0" in html and "connection reset by peer" in html
    assert "stale" not in row_html(html, "data-vm", "luna")
    for name in ("ghost", "limbo"):
        row = row_html(html, "data-vm", name)
        assert "vm-stale" in row and "stale-badge" in row, name
    assert "2 stale" in html


def test_sync_now_creates_a_sync_job_for_all_or_one_hypervisor(client, operator, estate, sent):
    logged_in(client, operator)
    response = client.post(reverse("hypervisors:sync_all"))
    job = only_job()
    assert (job.kind, job.params, job.created_by) == ("hypervisors.sync", {}, operator)
    assert response["Location"] == reverse("job_detail", args=[job.pk])

    rhine = estate["rhine"]
    client.post(reverse("hypervisors:hypervisor_sync", args=[rhine.pk]))
    one = Job.objects.exclude(pk=job.pk).get()
    assert one.params == {"hypervisor_id": rhine.pk} and one.target == rhine
    assert sent == [(job.pk, "hypervisors.sync"), (one.pk, "hypervisors.sync")]


# --- maintenance ---------------------------------------------------------------------------


def test_plan_shows_where_each_vm_goes_and_starts_nothing(client, viewer, estate, sent):
    rhine = estate["rhine"]
    make_vm(rhine, "luna")
    make_vm(rhine, "titan")
    make_vm(rhine, "pluto", state="shutoff")

    html = logged_in(client, viewer).get(reverse("hypervisors:evacuation_plan", args=[rhine.pk])).content.decode()

    targets = dict(re.findall(r'data-vm="(\w+)" data-target="(\w+)"', html))
    assert set(targets) == {"luna", "titan"} and set(targets.values()) <= {"danube", "thames"}
    assert 'id="unplaced"' not in html
    assert "pluto" in section_html(html, 'id="staying"')
    assert not Job.objects.exists() and sent == []


@pytest.mark.parametrize("policy, target", [("", "danube"), ("spread", "danube"), ("pack", "thames"),
                                            ("nonsense", "danube")])
def test_plan_follows_the_chosen_policy(client, viewer, estate, policy, target):
    rhine = estate["rhine"]
    make_vm(rhine, "luna")
    url = reverse("hypervisors:evacuation_plan", args=[rhine.pk]) + f"?policy={policy}"
    html = logged_in(client, viewer).get(url).content.decode()
    # Spread: the roomiest host (a tie broken by id); pack: the spare first.
    assert 'data-vm="luna" data-target="' + target + '"' in html


def test_plan_shows_unplaceable_vms_with_the_reason_and_refuses_to_start(client, operator, estate, sent):
    rhine = estate["rhine"]
    make_vm(rhine, "batman", vcpus=2, memory_mib=256)
    make_vm(rhine, "robin", vcpus=1, memory_mib=8192)  # more memory than any host has
    # The others keep 1 vCPU of room at most: batman needs 2.
    Hypervisor.objects.exclude(pk=rhine.pk).update(cpu_overcommit=Decimal("0.25"))
    logged_in(client, operator)
    url = reverse("hypervisors:evacuation_plan", args=[rhine.pk])

    html = client.get(url).content.decode()

    unplaced = section_html(html, 'id="unplaced"')
    assert "2 VMs cannot be placed" in unplaced
    assert re.search(r"needs 2 vCPUs.*at most 1", row_html(unplaced, "data-vm", "batman"))
    assert "needs 8192 MiB of memory" in row_html(unplaced, "data-vm", "robin")
    assert re.search(r'id="start-evacuation"\s+disabled', html)

    response = client.post(url, {"policy": "spread", "parallel": 2})
    assert response.status_code == 200 and "Cannot empty rhine" in response.content.decode()
    assert not Job.objects.exists() and sent == []
    assert Host.objects.get(pk=rhine.host.pk).status == HostStatus.ACTIVE


def test_start_evacuation_creates_the_evacuate_job(client, operator, estate, sent):
    rhine = estate["rhine"]
    make_vm(rhine, "luna")
    logged_in(client, operator)

    response = client.post(reverse("hypervisors:evacuation_plan", args=[rhine.pk]), {"policy": "pack", "parallel": 3})

    job = only_job()
    assert job.kind == "hypervisors.evacuate" and job.target == rhine and job.created_by == operator
    assert job.params == {"hypervisor_id": rhine.pk, "policy": "pack", "parallel": 3}
    assert sent == [(job.pk, "hypervisors.evacuate")]
    assert response["Location"] == reverse("hypervisors:hypervisor_detail", args=[rhine.pk]) + "#maintenance"

    again = client.post(reverse("hypervisors:evacuation_plan", args=[rhine.pk]), {"policy": "spread", "parallel": 2})
    assert "already being evacuated" in again.content.decode() and Job.objects.count() == 1


def test_bad_evacuation_settings_are_form_errors(client, operator, estate, sent):
    rhine = estate["rhine"]
    logged_in(client, operator)
    response = client.post(reverse("hypervisors:evacuation_plan", args=[rhine.pk]), {"policy": "yolo", "parallel": 0})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"policy", "parallel"}
    assert not Job.objects.exists()


def evacuation_with_children(hypervisor, states):
    parent = create_job("hypervisors.evacuate", f"Evacuate {hypervisor.name}", target=hypervisor,
                        params={"hypervisor_id": hypervisor.pk})
    Job.objects.filter(pk=parent.pk).update(state=Job.State.RUNNING, progress=33)
    for index, (state, progress) in enumerate(states):
        child = create_job("hypervisors.live_migrate", f"Migrate vm{index} to danube", parent=parent)
        Job.objects.filter(pk=child.pk).update(state=state, progress=progress,
                                              message=f"{progress} MiB sent, dirty rate 7 pages/s")
    return parent


def test_evacuation_card_has_one_progress_bar_per_vm_and_polls_while_running(client, viewer, estate):
    rhine = estate["rhine"]
    parent = evacuation_with_children(rhine, [("succeeded", 100), ("running", 42), ("pending", 0)])
    url = reverse("hypervisors:hypervisor_maintenance", args=[rhine.pk])

    response = logged_in(client, viewer).get(url, **HTMX)

    html = response.content.decode()
    items = re.findall(r'<li class="migration-item" data-job="(\d+)" data-state="(\w+)" data-progress="(\d+)"', html)
    children = list(parent.children.order_by("pk"))
    assert [int(pk) for pk, _, _ in items] == [c.pk for c in children]
    assert [(state, progress) for _, state, progress in items] == [("succeeded", "100"), ("running", "42"),
                                                                    ("pending", "0")]
    assert html.count('class="progress job-progress"') == 1 + 3  # the evacuation's own bar and one per VM
    assert 'style="width: 42%"' in html and "42 MiB sent, dirty rate 7 pages/s" in html
    assert f'hx-get="{url}" hx-trigger="every 1s"' in html
    assert response["HX-Trigger"] == "hypervisor-changed"  # the VM table refreshes with it
    assert 'hx-swap-oob="true"' in html  # and so does the status badge in the page header

    Job.objects.filter(pk=parent.pk).update(state=Job.State.SUCCEEDED, progress=100)
    done = client.get(url, **HTMX).content.decode()
    assert 'hx-trigger="every 1s"' not in done and 'id="evacuation-done"' in done


def test_the_hypervisor_page_shows_its_latest_evacuation(client, viewer, estate):
    rhine = estate["rhine"]
    evacuation_with_children(estate["danube"], [("running", 10)])  # another host's: not shown
    parent = evacuation_with_children(rhine, [("running", 10), ("running", 20)])

    html = logged_in(client, viewer).get(reverse("hypervisors:hypervisor_detail", args=[rhine.pk])).content.decode()

    assert f'id="evacuation" data-job="{parent.pk}"' in html
    assert html.count('class="migration-item"') == 2
    assert 'id="cancel-evacuation"' not in html  # viewers cannot cancel


def test_an_operator_can_cancel_a_running_evacuation(client, operator, estate):
    rhine = estate["rhine"]
    parent = evacuation_with_children(rhine, [("running", 10)])
    logged_in(client, operator)
    html = client.get(reverse("hypervisors:hypervisor_maintenance", args=[rhine.pk]), **HTMX).content.decode()
    cancel_url = reverse("job_cancel", args=[parent.pk])
    assert f'hx-post="{cancel_url}"' in html and 'id="cancel-evacuation"' in html

    client.post(cancel_url, **HTMX)

    parent.refresh_from_db()
    assert parent.cancel_requested and parent.state == Job.State.RUNNING  # running migrations finish
    html = client.get(reverse("hypervisors:hypervisor_maintenance", args=[rhine.pk]), **HTMX).content.decode()
    assert "Cancel requested" in html


def test_leave_maintenance_returns_the_host_to_active(client, operator, estate):
    rhine = estate["rhine"]
    Host.objects.filter(pk=rhine.host.pk).update(status=HostStatus.MAINTENANCE)
    logged_in(client, operator)
    html = client.get(reverse("hypervisors:hypervisor_detail", args=[rhine.pk])).content.decode()
    assert 'id="leave-maintenance"' in html and 'id="plan-maintenance"' not in html

    client.post(reverse("hypervisors:leave_maintenance", args=[rhine.pk]))

    assert Host.objects.get(pk=rhine.host.pk).status == HostStatus.ACTIVE
    assert rhine.host.journal.filter(text__contains="left maintenance").exists()


def test_leave_maintenance_is_refused_while_the_evacuation_runs(client, operator, estate):
    rhine = estate["rhine"]
    Host.objects.filter(pk=rhine.host.pk).update(status=HostStatus.MAINTENANCE)
    evacuation_with_children(rhine, [("running", 50)])
    logged_in(client, operator)

    response = client.post(reverse("hypervisors:leave_maintenance", args=[rhine.pk]), follow=True)

    assert "is being evacuated by job" in response.content.decode()
    assert Host.objects.get(pk=rhine.host.pk).status == HostStatus.MAINTENANCE


# --- helpers -------------------------------------------------------------------------------------


def row_html(html, attribute, value):
    """The <tr> (or <li>) carrying attribute="value"."""
    match = re.search(rf'<(tr|li)\b[^>]*{attribute}="{re.escape(value)}".*?</\1>', html, re.S)
    assert match, f"no row with {attribute}={value}"
    return match.group(0)


def section_html(html, marker):
    """The <section> whose opening tag contains `marker`."""
    match = re.search(rf"<section\b[^>]*{re.escape(marker)}.*?</section>", html, re.S)
    assert match, f"no section with {marker}"
    return match.group(0)


def memory_bar(row):
    """(percent, colour) of the memory bar in a hypervisor row."""
    match = re.search(r'data-resource="memory" data-percent="(\d+)".*?progress-bar bg-(\w+)', row, re.S)
    assert match, row
    return match.groups()
