"""Console VM pages: list filters, our own records, and every action ending in the right
Job with the right parameters (or in a form error, with no Job)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import Job
from hypervisors.models import Hypervisor, VirtualMachine
from inventory.models import Host, NamingScheme, Role, Tag
from tests.hypervisors.test_console import estate, logged_in, make_vm, only_job, row_html, sent  # noqa: F401


def vm_url(name, vm):
    return reverse(f"hypervisors:{name}", args=[vm.pk])


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- list ------------------------------------------------------------------------------------


@pytest.fixture
def fleet(estate):
    app = Role.objects.create(name="App server", slug="app")
    db = Role.objects.create(name="Database server", slug="db")
    return {
        "luna": make_vm(estate["rhine"], "luna", role=app, ha_enabled=True, owner="web-team"),
        "titan": make_vm(estate["danube"], "titan", role=app, anti_affinity_group="app-cluster"),
        "batman": make_vm(estate["danube"], "batman", state="shutoff", role=db),
        "ghost": make_vm(estate["rhine"], "ghost", state=VirtualMachine.State.GONE),
    }


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", {"luna", "titan", "batman", "ghost"}),
        ("state=shutoff", {"batman"}),
        ("role=app", {"luna", "titan"}),
        ("ha=true", {"luna"}),
        ("ha=false", {"titan", "batman", "ghost"}),
        ("stale=true", {"ghost"}),
        ("q=web-team", {"luna"}),
        ("q=APP-CLUSTER", {"titan"}),
        ("hypervisor=RHINE", {"luna", "ghost"}),
        ("role=app&hypervisor=DANUBE", {"titan"}),
    ],
)
def test_vm_list_filters(client, viewer, estate, fleet, query, expected):
    query = query.replace("RHINE", str(estate["rhine"].pk)).replace("DANUBE", str(estate["danube"].pk))
    response = logged_in(client, viewer).get(reverse("hypervisors:vm_list") + "?" + query)
    assert response.status_code == 200
    assert {vm.name for vm in response.context["table"].data} == expected


def test_vm_list_bad_filter_values_are_not_an_error(client, viewer, fleet):
    response = logged_in(client, viewer).get(reverse("hypervisors:vm_list") + "?state=exploded&hypervisor=x&ha=maybe")
    assert response.status_code == 200
    assert set(response.context["filter"].form.errors) == {"state", "hypervisor"}


def test_vm_list_marks_stale_vms(client, viewer, fleet):
    html = logged_in(client, viewer).get(reverse("hypervisors:vm_list")).content.decode()
    assert "stale-badge" in row_html(html, "data-vm", "ghost")
    assert "stale-badge" not in row_html(html, "data-vm", "luna")


def test_vm_list_costs_the_same_queries_for_many_vms(client, viewer, estate, fleet):
    logged_in(client, viewer)
    url = reverse("hypervisors:vm_list")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    tag = Tag.objects.create(name="prod", slug="prod")
    for index in range(20):
        vm = make_vm(estate["thames"], f"vm{index}", inventory_host=Host.objects.create(
            hostname=f"svc{index}", site=estate["thames"].host.site))
        vm.tags.add(tag)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).content.decode().count('data-vm="') == 24
    assert len(many) == len(few)


# --- our records ---------------------------------------------------------------------------


def test_an_operator_edits_our_records_of_a_vm(client, operator, estate):
    vm = make_vm(estate["rhine"], "luna")
    service = Host.objects.create(hostname="luna", site=estate["rhine"].host.site)
    tag = Tag.objects.create(name="prod", slug="prod")
    role = Role.objects.create(name="App server", slug="app")

    response = logged_in(client, operator).post(vm_url("vm_detail", vm), {
        "ha_enabled": "on", "anti_affinity_group": "app-cluster", "role": role.pk, "inventory_host": "luna",
        "owner": "web-team", "tags": [tag.pk],
    })

    assert response.status_code == 302
    vm.refresh_from_db()
    assert (vm.ha_enabled, vm.anti_affinity_group, vm.role, vm.inventory_host, vm.owner) == (
        True, "app-cluster", role, service, "web-team")
    assert list(vm.tags.all()) == [tag]
    # What libvirt reports is not ours to edit, whatever is posted.
    client.post(vm_url("vm_detail", vm), {"inventory_host": "luna", "vcpus": 64, "state": "shutoff"})
    vm.refresh_from_db()
    assert (vm.vcpus, vm.state, vm.ha_enabled) == (1, "running", False)


def test_record_errors_are_shown_on_the_form(client, operator, estate):
    vm = make_vm(estate["rhine"], "luna")
    other = make_vm(estate["rhine"], "titan", inventory_host=Host.objects.create(
        hostname="titan", site=estate["rhine"].host.site))
    logged_in(client, operator)

    unknown = client.post(vm_url("vm_detail", vm), {"inventory_host": "nosuchhost"})
    taken = client.post(vm_url("vm_detail", vm), {"inventory_host": "titan"})

    assert unknown.status_code == 200 and "No host with that hostname" in unknown.content.decode()
    assert taken.status_code == 200 and f"already linked to the VM {other.name}" in taken.content.decode()
    vm.refresh_from_db()
    assert vm.inventory_host is None


# --- power ----------------------------------------------------------------------------------


def test_power_actions_create_power_jobs(client, operator, estate, sent):
    running = make_vm(estate["rhine"], "luna")
    off = make_vm(estate["rhine"], "pluto", state="shutoff")
    logged_in(client, operator)

    response = client.post(vm_url("vm_power", off), {"action": "start"})
    start = only_job()
    assert (start.kind, start.params, start.target) == ("hypervisors.power", {"vm_id": off.pk, "action": "start"}, off)
    assert response["Location"] == reverse("job_detail", args=[start.pk])

    other = make_vm(estate["rhine"], "io")
    client.post(vm_url("vm_power", running), {"action": "shutdown", "timeout": 30})
    client.post(vm_url("vm_power", other), {"action": "force-off"})
    shutdown, force = Job.objects.exclude(pk=start.pk).order_by("pk")
    assert shutdown.params == {"vm_id": running.pk, "action": "shutdown", "timeout": 30}
    assert shutdown.title == "Shut down luna"
    assert force.params == {"vm_id": other.pk, "action": "force-off"}
    assert [task for _, task in sent] == ["hypervisors.power"] * 3


def test_a_queued_job_holds_the_vm_for_the_console_as_for_the_api(client, operator, operator_api, estate, sent):
    vm = make_vm(estate["rhine"], "luna")
    logged_in(client, operator)
    client.post(vm_url("vm_power", vm), {"action": "shutdown", "timeout": 30})
    queued = only_job()
    assert queued.state == Job.State.PENDING

    refused = client.post(vm_url("vm_power", vm), {"action": "force-off"}, follow=True)
    assert f"job #{queued.pk}" in refused.content.decode()
    api = operator_api.post(f"/api/hypervisors/vms/{vm.pk}/power/", {"action": "force-off"}, format="json")
    assert api.status_code == 409 and f"job #{queued.pk}" in api.json()["detail"]
    assert Job.objects.count() == 1


def test_a_paused_vm_takes_only_force_off_in_the_console_and_the_api(client, operator, operator_api, estate, sent):
    vm = make_vm(estate["rhine"], "luna", state="paused")
    logged_in(client, operator)
    for action in ("shutdown", "reboot"):
        assert client.post(vm_url("vm_power", vm), {"action": action}).status_code == 302
        api = operator_api.post(f"/api/hypervisors/vms/{vm.pk}/power/", {"action": action}, format="json")
        assert api.status_code == 400 and "force-off applies" in api.json()["action"][0]
    assert not Job.objects.exists()
    client.post(vm_url("vm_power", vm), {"action": "force-off"})
    assert only_job().params == {"vm_id": vm.pk, "action": "force-off"}


@pytest.mark.parametrize("state, action", [("running", "start"), ("shutoff", "reboot"), ("gone", "start"),
                                           ("running", "explode")])
def test_power_actions_that_do_not_apply_are_refused_without_a_job(client, operator, estate, sent, state, action):
    vm = make_vm(estate["rhine"], "luna", state=state)
    response = logged_in(client, operator).post(vm_url("vm_power", vm), {"action": action}, follow=True)
    assert response.redirect_chain[-1][0] == vm_url("vm_detail", vm)
    assert messages_of(response) and not Job.objects.exists() and sent == []


def test_a_busy_vm_takes_no_second_job(client, operator, estate, sent):
    vm = make_vm(estate["rhine"], "luna")
    holder = Job.objects.create(kind="hypervisors.live_migrate", title="Migrate luna", state=Job.State.RUNNING)
    VirtualMachine.objects.filter(pk=vm.pk).update(busy_job=holder)

    response = logged_in(client, operator).post(vm_url("vm_power", vm), {"action": "reboot"}, follow=True)

    assert any(f"job #{holder.pk}" in m for m in messages_of(response))
    assert Job.objects.count() == 1 and sent == []
    assert 'id="busy-alert"' in client.get(vm_url("vm_detail", vm)).content.decode()


# --- migration ------------------------------------------------------------------------------


def test_migrate_form_offers_only_hypervisors_the_vm_fits_on(client, operator, estate):
    vm = make_vm(estate["rhine"], "luna", vcpus=2, memory_mib=1024, anti_affinity_group="web")
    make_vm(estate["danube"], "apollo", anti_affinity_group="web")  # anti-affinity rules danube out
    Hypervisor.objects.filter(pk=estate["thames"].pk).update(enabled=False)  # not a candidate at all
    Host.objects.create(hostname="spare-02", site=estate["rhine"].host.site, status="spare")

    response = logged_in(client, operator).get(vm_url("vm_migrate", vm))

    form = response.context["form"]
    assert form.kind == "live"
    assert [value for value, _ in form.fields["target"].choices] == [""]  # only "let the planner choose"
    html = response.content.decode()
    assert "anti-affinity group &#x27;web&#x27;" in row_html(html, "data-candidate", "danube")
    assert 'data-candidate="thames"' not in html


def test_live_migration_to_a_chosen_target(client, operator, estate, sent):
    vm = make_vm(estate["rhine"], "luna")
    thames = estate["thames"]

    response = logged_in(client, operator).post(vm_url("vm_migrate", vm), {
        "target": thames.pk, "auto_converge": "on", "bandwidth_mib_s": 50, "time_limit_s": 120})

    job = only_job()
    assert job.kind == "hypervisors.live_migrate" and job.target == vm
    assert job.params == {"vm_id": vm.pk, "target_id": thames.pk, "auto_converge": True, "bandwidth_mib_s": 50,
                          "time_limit_s": 120}
    assert job.title == "Live-migrate luna to thames"
    assert response["Location"] == reverse("job_detail", args=[job.pk])
    assert sent == [(job.pk, "hypervisors.live_migrate")]


def test_the_planner_chooses_a_target_with_room(client, operator, estate, sent):
    vm = make_vm(estate["rhine"], "luna", memory_mib=2048)
    make_vm(estate["danube"], "hog", memory_mib=3000)  # danube keeps 1096 MiB: too little
    logged_in(client, operator).post(vm_url("vm_migrate", vm), {"target": "", "bandwidth_mib_s": 0,
                                                                 "time_limit_s": 600})
    job = only_job()
    assert job.params["target_id"] == estate["thames"].pk
    assert (job.params["auto_converge"], job.params["bandwidth_mib_s"]) == (False, 0)


def test_a_target_without_room_is_a_form_error(client, operator, estate, sent):
    vm = make_vm(estate["rhine"], "luna", vcpus=4)
    Hypervisor.objects.exclude(pk=estate["rhine"].pk).update(cpu_overcommit=Decimal("0.5"))  # 2 vCPU each
    logged_in(client, operator)

    chosen = client.post(vm_url("vm_migrate", vm), {"target": estate["danube"].pk, "bandwidth_mib_s": 0,
                                                   "time_limit_s": 600})
    planned = client.post(vm_url("vm_migrate", vm), {"target": "", "bandwidth_mib_s": 0, "time_limit_s": 600})

    assert "target" in chosen.context["form"].errors
    assert "No hypervisor can take luna" in planned.content.decode() and "needs 4 vCPUs" in planned.content.decode()
    assert not Job.objects.exists() and sent == []


def test_a_shut_off_vm_is_cold_migrated(client, operator, estate, sent):
    vm = make_vm(estate["rhine"], "pluto", state="shutoff")
    logged_in(client, operator)
    form = client.get(vm_url("vm_migrate", vm)).context["form"]
    assert form.kind == "cold" and "auto_converge" not in form.fields

    client.post(vm_url("vm_migrate", vm), {"target": estate["danube"].pk})

    job = only_job()
    assert job.kind == "hypervisors.cold_migrate"
    assert job.params == {"vm_id": vm.pk, "target_id": estate["danube"].pk}


def test_a_paused_vm_cannot_be_migrated(client, operator, estate, sent):
    vm = make_vm(estate["rhine"], "luna", state="paused")
    response = logged_in(client, operator).post(vm_url("vm_migrate", vm), {"target": ""})
    assert response.status_code == 200 and "only a running VM (live)" in response.content.decode()
    assert not Job.objects.exists()


# --- resize, delete ---------------------------------------------------------------------------


def test_resize_a_shut_off_vm(client, operator, estate, sent):
    vm = make_vm(estate["rhine"], "pluto", state="shutoff")
    logged_in(client, operator).post(vm_url("vm_resize", vm), {"vcpus": 4, "memory_mib": 2048})
    job = only_job()
    assert job.kind == "hypervisors.resize" and job.params == {"vm_id": vm.pk, "vcpus": 4, "memory_mib": 2048}


@pytest.mark.parametrize("state, data, error", [
    ("running", {"vcpus": 2, "memory_mib": 1024}, "shut it down"),
    ("shutoff", {"vcpus": 0, "memory_mib": 8}, "greater than or equal to"),
    ("shutoff", {"vcpus": "two", "memory_mib": ""}, "Enter a whole number"),
])
def test_bad_resizes_are_form_errors(client, operator, estate, sent, state, data, error):
    vm = make_vm(estate["rhine"], "pluto", state=state)
    response = logged_in(client, operator).post(vm_url("vm_resize", vm), data)
    assert response.status_code == 200 and error in response.content.decode()
    assert not Job.objects.exists()


def test_delete_needs_the_vm_name_typed(client, admin_user, estate, sent):
    vm = make_vm(estate["rhine"], "luna", disks=[{"target": "vda", "path": "/srv/luna.qcow2", "format": "qcow2"}])
    logged_in(client, admin_user)
    page = client.get(vm_url("vm_delete", vm)).content.decode()
    assert "/srv/luna.qcow2" in page

    wrong = client.post(vm_url("vm_delete", vm), {"confirm_name": "lun", "delete_disks": "on"})
    assert "confirm with the VM&#x27;s name (luna)" in wrong.content.decode() and not Job.objects.exists()

    client.post(vm_url("vm_delete", vm), {"confirm_name": "luna", "delete_disks": "on"})
    job = only_job()
    assert job.kind == "hypervisors.delete_vm" and job.params == {"vm_id": vm.pk, "delete_disks": True}
    assert job.title == "Delete luna and its disks" and sent == [(job.pk, "hypervisors.delete_vm")]


def test_delete_keeps_the_disks_unless_asked(client, admin_user, estate, sent):
    vm = make_vm(estate["rhine"], "luna")
    logged_in(client, admin_user).post(vm_url("vm_delete", vm), {"confirm_name": "luna"})
    assert only_job().params == {"vm_id": vm.pk, "delete_disks": False}


# --- create ---------------------------------------------------------------------------------------


@pytest.fixture
def app_role(db):
    scheme = NamingScheme.objects.create(name="Solar bodies", names=["luna", "saturn", "jupiter"])
    return Role.objects.create(name="App server", slug="app", naming_scheme=scheme)


def test_create_names_the_vm_from_the_role_scheme(client, operator, estate, app_role, sent, settings):
    settings.OPSCONSOLE_VM_STORAGE_DIRS = ["/srv/vms"]
    Host.objects.create(hostname="luna", site=estate["rhine"].host.site)  # taken by a host
    make_vm(estate["danube"], "saturn")  # taken by a VM
    logged_in(client, operator)

    hint = client.get(reverse("hypervisors:vm_suggest_name") + f"?role={app_role.pk}", HTTP_HX_REQUEST="true")
    assert 'value="jupiter"' in hint.content.decode()

    response = client.post(reverse("hypervisors:vm_create"), {
        "hypervisor": estate["rhine"].pk, "role": app_role.pk, "name": "", "vcpus": 2, "memory_mib": 512,
        "disk_gib": 10, "storage_dir": "/srv/vms", "start": "on"})

    job = only_job()
    assert job.kind == "hypervisors.create_vm" and job.target == estate["rhine"]
    assert job.params == {"hypervisor_id": estate["rhine"].pk, "role_id": app_role.pk, "name": "jupiter",
                          "vcpus": 2, "memory_mib": 512, "disk_gib": 10, "storage_dir": "/srv/vms", "start": True}
    assert response["Location"] == reverse("job_detail", args=[job.pk]) and sent == [(job.pk, "hypervisors.create_vm")]


@pytest.mark.parametrize("overrides, field, error", [
    ({"name": "", "role": ""}, "name", "Give a name"),
    ({"name": "Not A Label"}, "name", "valid DNS label"),
    ({"name": "saturn"}, "name", "already exists"),
    ({"disk_gib": 5, "storage_dir": ""}, "storage_dir", "needs the directory"),
    ({"disk_gib": 5, "storage_dir": "relative/dir"}, "storage_dir", "absolute path"),
    ({"disk_gib": 5, "storage_dir": "/etc/../etc"}, "storage_dir", "absolute path"),
    ({"disk_gib": 5, "storage_dir": "/etc"}, "storage_dir", "is not storage of rhine"),
    ({"memory_mib": 8000}, "hypervisor", "cannot take mars"),
    ({"hypervisor": "maintenance-host"}, "hypervisor", "Select a valid choice"),
])
def test_create_errors_are_form_errors(client, operator, estate, app_role, sent, overrides, field, error):
    make_vm(estate["danube"], "saturn")
    in_maintenance = estate["danube"]
    Host.objects.filter(pk=in_maintenance.host.pk).update(status="maintenance")
    data = {"hypervisor": estate["rhine"].pk, "role": app_role.pk, "name": "mars", "vcpus": 1, "memory_mib": 256,
            "disk_gib": 0, "storage_dir": ""}
    data.update(overrides)
    if data["hypervisor"] == "maintenance-host":
        data["hypervisor"] = in_maintenance.pk

    response = logged_in(client, operator).post(reverse("hypervisors:vm_create"), data)

    assert response.status_code == 200
    assert error in " ".join(response.context["form"].errors.get(field, [])), response.context["form"].errors
    assert not Job.objects.exists() and sent == []


def test_create_form_prefills_the_hypervisor_and_shows_free_room(client, operator, estate):
    make_vm(estate["rhine"], "luna", vcpus=4, memory_mib=1024)
    response = logged_in(client, operator).get(reverse("hypervisors:vm_create") + f"?hypervisor={estate['rhine'].pk}")
    assert response.context["form"].initial["hypervisor"] == estate["rhine"].pk
    assert "rhine — 12 vCPU, 3 GiB free" in response.content.decode()


def test_a_deleted_vm_still_has_its_pages_but_takes_no_action(client, admin_user, estate, sent):
    vm = make_vm(None, "marvin", state=VirtualMachine.State.GONE)
    logged_in(client, admin_user)
    html = client.get(vm_url("vm_detail", vm)).content.decode()
    assert 'id="stale-alert"' in html and 'id="power-form"' not in html and 'id="migrate"' not in html
    for name in ("vm_migrate", "vm_resize", "vm_delete"):
        assert client.get(vm_url(name, vm)).status_code == 200, name
    assert client.post(vm_url("vm_migrate", vm), {"target": ""}).status_code == 200
    assert client.post(vm_url("vm_resize", vm), {"vcpus": 1, "memory_mib": 64}).status_code == 200
    refused = client.post(vm_url("vm_delete", vm), {"confirm_name": "marvin"})
    assert "gone from libvirt" in refused.content.decode()
    assert not Job.objects.exists() and sent == []
