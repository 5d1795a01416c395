"""The hypervisors API without libvirt: representations, filters, roles, validation,
and actions that are refused (400/409) or accepted (202 with a pending Job whose task
is never sent: no commit happens in these tests). test_api_lab.py runs the actions."""

import uuid
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.jobs import create_job
from core.models import Job
from hypervisors.models import Hypervisor, VirtualMachine
from inventory.models import Host, JournalEntry, NamingScheme, Role, Site, Tag
from tests.conftest import token_client

API = "/api/hypervisors"
HYPERVISORS = f"{API}/hypervisors/"
VMS = f"{API}/vms/"


def url(base, obj, action=""):
    return f"{base}{obj.pk}/" + (f"{action}/" if action else "")


def make_hypervisor(site, name, status="active", **fields):
    host = Host.objects.create(hostname=name, site=site, status=status, cpu_cores=8, memory_mib=4096)
    fields.setdefault("uri", f"qemu+tcp://{name}.example/system")
    return Hypervisor.objects.create(host=host, **fields)


def make_vm(hypervisor, name, state="running", vcpus=1, memory_mib=512, **fields):
    return VirtualMachine.objects.create(uuid=fields.pop("uuid", None) or _uuid(name), name=name,
                                         hypervisor=hypervisor, state=state, vcpus=vcpus, memory_mib=memory_mib,
                                         **fields)


def _uuid(name):
    return uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.vm.test")


@pytest.fixture
def prod(db):
    return Tag.objects.create(name="Production", slug="prod")


@pytest.fixture
def estate(site, app_role, prod):
    """rhine and danube active, thames spare (all 32 vCPUs / 4096 MiB under overcommit), and
    oder at another site; luna and io run on rhine, ghost is gone."""
    rhine = make_hypervisor(site, "rhine", shared_storage=True, connection="connected")
    danube = make_hypervisor(site, "danube", shared_storage=True, connection="connected")
    thames = make_hypervisor(site, "thames", status="spare", shared_storage=True, connection="connected")
    elsewhere = Site.objects.create(name="Berlin", slug="ber1")
    oder = make_hypervisor(elsewhere, "oder", connection="unreachable", last_error="no route to host")
    luna = make_vm(rhine, "luna", vcpus=2, memory_mib=1024, role=app_role, ha_enabled=True, owner="moons")
    luna.tags.add(prod)
    io = make_vm(rhine, "io", state="shutoff")
    ghost = make_vm(rhine, "ghost", state="gone", vcpus=16, memory_mib=4000)
    return {"rhine": rhine, "danube": danube, "thames": thames, "oder": oder, "luna": luna, "io": io,
            "ghost": ghost}


def job_of(response):
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["url"] == f"/api/jobs/{body['job']}/" and body["state"] == "pending"
    return Job.objects.get(pk=body["job"])


def target_of(job):
    return job.target_type.model, job.target_id


# --- roles ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", [HYPERVISORS, VMS, f"{API}/capacity/"])
def test_reading_needs_a_login_and_a_role(anon_api, nobody, path, estate):
    assert anon_api.get(path).status_code == 401
    assert token_client(nobody).get(path).status_code == 403


def test_viewers_read_but_change_nothing(viewer_api, estate):
    rhine, luna = estate["rhine"], estate["luna"]
    assert viewer_api.get(url(HYPERVISORS, rhine)).status_code == 200
    assert viewer_api.get(url(HYPERVISORS, rhine, "evacuation-plan")).status_code == 200
    refused = [
        viewer_api.patch(url(HYPERVISORS, rhine), {"enabled": False}),
        viewer_api.post(url(HYPERVISORS, rhine, "sync")),
        viewer_api.post(url(HYPERVISORS, rhine, "maintenance"), {}),
        viewer_api.post(url(HYPERVISORS, rhine, "leave-maintenance")),
        viewer_api.patch(url(VMS, luna), {"owner": "me"}),
        viewer_api.post(url(VMS, luna, "power"), {"action": "shutdown"}),
        viewer_api.post(url(VMS, luna, "migrate"), {}),
        viewer_api.post(url(VMS, luna, "resize"), {"vcpus": 1, "memory_mib": 64}),
        viewer_api.delete(f"{url(VMS, luna)}?confirm=luna"),
        viewer_api.post(f"{VMS}create/", {"hypervisor": rhine.pk, "name": "x", "vcpus": 1, "memory_mib": 64}),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert not Job.objects.exists()


def test_operators_run_actions_but_only_admins_change_hypervisor_records(operator_api, admin_api, estate, site):
    rhine = estate["rhine"]
    assert operator_api.patch(url(HYPERVISORS, rhine), {"enabled": False}).status_code == 403
    assert operator_api.delete(url(HYPERVISORS, rhine)).status_code == 403
    host = Host.objects.create(hostname="elbe", site=site, status="active")
    assert operator_api.post(HYPERVISORS, {"host": host.pk, "uri": "qemu+tcp://elbe/system"}).status_code == 403
    assert operator_api.post(url(HYPERVISORS, rhine, "sync")).status_code == 202
    assert admin_api.patch(url(HYPERVISORS, rhine), {"enabled": False}).status_code == 200


@pytest.mark.parametrize("path", [f"{HYPERVISORS}999999/", f"{HYPERVISORS}999999/sync/",
                                  f"{HYPERVISORS}999999/evacuation-plan/", f"{VMS}999999/",
                                  f"{VMS}999999/power/", f"{VMS}not-a-number/"])
def test_unknown_objects_are_404(admin_api, path, estate):
    method = admin_api.post if path.endswith(("sync/", "power/")) else admin_api.get
    assert method(path, {"action": "start"}).status_code == 404


# --- hypervisors ---------------------------------------------------------------------


def test_hypervisor_representation_with_usage(viewer_api, estate):
    Hypervisor.objects.filter(pk=estate["rhine"].pk).update(credentials="-----BEGIN KEY-----")
    body = viewer_api.get(url(HYPERVISORS, estate["rhine"])).json()
    assert (body["name"], body["host"], body["host_status"], body["site"]) == (
        "rhine", estate["rhine"].host_id, "active", "ams1")
    assert body["connection"] == "connected" and body["shared_storage"] is True
    assert body["credentials_set"] is True and "credentials" not in body
    # 8 cores x 4.0 overcommit, 4096 MiB x 1.0; the gone VM takes nothing.
    assert body["usage"] == {"vcpus": 32, "vcpus_used": 3, "vcpu_percent": 9, "memory_mib": 4096,
                             "memory_used_mib": 1536, "memory_percent": 38, "vm_count": 2}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", ["danube", "oder", "rhine", "thames"]),
        ("site=ber1", ["oder"]),
        ("status=spare", ["thames"]),
        ("connection=unreachable", ["oder"]),
        ("q=dan", ["danube"]),
        ("q=oder.example", ["oder"]),
        ("enabled=false", ["thames"]),
        ("ordering=-host__hostname", ["thames", "rhine", "oder", "danube"]),
    ],
)
def test_hypervisor_filters(viewer_api, estate, query, expected):
    Hypervisor.objects.filter(pk=estate["thames"].pk).update(enabled=False)
    response = viewer_api.get(f"{HYPERVISORS}?{query}")
    assert response.status_code == 200
    assert [row["name"] for row in response.json()["results"]] == expected


def test_hypervisors_ordered_by_what_their_vms_take(viewer_api, estate):
    make_vm(estate["danube"], "europa")
    response = viewer_api.get(f"{HYPERVISORS}?ordering=-vm_count")
    assert [row["name"] for row in response.json()["results"]][:2] == ["rhine", "danube"]


def test_hypervisor_list_runs_a_fixed_number_of_queries(viewer_api, site):
    def grow(first, count):
        for n in range(first, first + count):
            hypervisor = make_hypervisor(site, f"hv{n:03d}")
            make_vm(hypervisor, f"vm{n:03d}")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = viewer_api.get(f"{HYPERVISORS}?limit=500")
        assert response.status_code == 200
        return len(captured), response.json()["count"]

    grow(0, 3)
    small = queries()
    grow(3, 30)
    large = queries()
    assert (small[1], large[1]) == (3, 33)
    assert small[0] == large[0]


def test_admin_creates_a_hypervisor_whose_credentials_are_never_returned(admin_api, admin_user, site):
    host = Host.objects.create(hostname="elbe", site=site, status="active", cpu_cores=16, memory_mib=65536)
    response = admin_api.post(HYPERVISORS, {
        "host": host.pk, "uri": "qemu+ssh://root@elbe/system", "credentials": "-----BEGIN OPENSSH PRIVATE KEY-----",
        "cpu_overcommit": "2.5", "memory_overcommit": 1.2,
    })
    assert response.status_code == 201, response.json()
    body = response.json()
    assert "credentials" not in body and body["credentials_set"] is True
    assert body["usage"]["vcpus"] == 40 and body["usage"]["memory_mib"] == 78643
    hypervisor = Hypervisor.objects.get(host=host)
    assert hypervisor.credentials == "-----BEGIN OPENSSH PRIVATE KEY-----"
    assert hypervisor.cpu_overcommit == Decimal("2.5")
    assert "OPENSSH" not in str(admin_api.get(url(HYPERVISORS, hypervisor)).json())
    entry = LogEntry.objects.get_for_object(hypervisor).get()
    assert entry.actor == admin_user and "credentials" not in entry.changes_dict

    cleared = admin_api.patch(url(HYPERVISORS, hypervisor), {"credentials": ""})
    assert cleared.json()["credentials_set"] is False


@pytest.mark.parametrize(
    "data, field",
    [
        ({"uri": "http://rhine/system"}, "uri"),
        ({"uri": ""}, "uri"),
        ({"cpu_overcommit": "0"}, "cpu_overcommit"),
        ({"memory_overcommit": "lots"}, "memory_overcommit"),
        ({"host": 999999}, "host"),
        ({"host": None}, "host"),
        ({"enabled": "maybe"}, "enabled"),
    ],
)
def test_bad_hypervisor_input_gives_field_errors(admin_api, site, data, field):
    host = Host.objects.create(hostname="elbe", site=site)
    response = admin_api.post(HYPERVISORS, {"host": host.pk, "uri": "qemu+tcp://elbe/system", **data})
    assert response.status_code == 400
    assert field in response.json()


def test_a_host_is_one_hypervisor_and_a_uri_one_host(admin_api, estate, site):
    taken_host = admin_api.post(HYPERVISORS, {"host": estate["rhine"].host_id, "uri": "qemu+tcp://other/system"})
    assert taken_host.status_code == 400 and "host" in taken_host.json()
    host = Host.objects.create(hostname="elbe", site=site)
    taken_uri = admin_api.post(HYPERVISORS, {"host": host.pk, "uri": estate["rhine"].uri})
    assert taken_uri.status_code == 400 and "uri" in taken_uri.json()


def test_synced_hypervisor_facts_are_read_only(admin_api, estate):
    response = admin_api.patch(url(HYPERVISORS, estate["rhine"]), {"connection": "connected", "cpus": 512,
                                                                    "enabled": False})
    assert response.status_code == 200
    estate["rhine"].refresh_from_db()
    assert (estate["rhine"].cpus, estate["rhine"].enabled) == (0, False)


def test_admin_deletes_a_hypervisor_and_its_vms_stay(admin_api, estate):
    assert admin_api.delete(url(HYPERVISORS, estate["danube"])).status_code == 204
    assert not Hypervisor.objects.filter(host__hostname="danube").exists()
    make_vm(estate["thames"], "titan")
    assert admin_api.delete(url(HYPERVISORS, estate["thames"])).status_code == 204
    assert VirtualMachine.objects.get(name="titan").hypervisor is None


def test_sync_one_or_all_is_a_job(operator_api, operator, estate):
    job = job_of(operator_api.post(url(HYPERVISORS, estate["rhine"], "sync")))
    assert (job.kind, job.params, job.created_by) == ("hypervisors.sync", {"hypervisor_id": estate["rhine"].pk},
                                                      operator)
    assert target_of(job) == ("hypervisor", str(estate["rhine"].pk))
    everything = job_of(operator_api.post(f"{HYPERVISORS}sync/"))
    assert (everything.kind, everything.params) == ("hypervisors.sync", {})


def test_evacuation_plan_changes_nothing(viewer_api, estate):
    make_vm(estate["thames"], "dione", memory_mib=64)  # danube is now the roomiest
    response = viewer_api.get(url(HYPERVISORS, estate["rhine"], "evacuation-plan"))
    assert response.status_code == 200
    body = response.json()
    assert [(m["vm"], m["target"]) for m in body["moves"]] == [("luna", "danube")]  # spread: same free room
    assert body["unplaced"] == []
    packed = viewer_api.get(url(HYPERVISORS, estate["rhine"], "evacuation-plan") + "?policy=pack").json()
    assert [(m["vm"], m["target"]) for m in packed["moves"]] == [("luna", "thames")]  # spares first
    assert Host.objects.get(hostname="rhine").status == "active" and not Job.objects.exists()
    bad = viewer_api.get(url(HYPERVISORS, estate["rhine"], "evacuation-plan") + "?policy=random")
    assert bad.status_code == 400 and "policy" in bad.json()


def test_maintenance_starts_an_evacuation_job(operator_api, estate):
    job = job_of(operator_api.post(url(HYPERVISORS, estate["rhine"], "maintenance"),
                                   {"parallel": 3, "policy": "pack"}))
    assert job.kind == "hypervisors.evacuate"
    assert job.params == {"hypervisor_id": estate["rhine"].pk, "parallel": 3, "policy": "pack"}
    assert target_of(job) == ("hypervisor", str(estate["rhine"].pk))
    again = operator_api.post(url(HYPERVISORS, estate["rhine"], "maintenance"), {})
    assert again.status_code == 400 and f"job #{job.pk}" in again.json()["non_field_errors"][0]


def test_maintenance_is_refused_when_a_vm_cannot_be_placed(operator_api, estate):
    Hypervisor.objects.exclude(pk=estate["rhine"].pk).update(memory_overcommit=Decimal("0.1"))
    response = operator_api.post(url(HYPERVISORS, estate["rhine"], "maintenance"), {})
    assert response.status_code == 400
    message = response.json()["non_field_errors"][0]
    assert "Cannot empty rhine: luna: needs 1024 MiB of memory" in message
    assert not Job.objects.exists()


@pytest.mark.parametrize("data, field", [({"parallel": 0}, "parallel"), ({"policy": "random"}, "policy"),
                                         ({"parallel": "two"}, "parallel")])
def test_bad_maintenance_options_are_400(operator_api, estate, data, field):
    response = operator_api.post(url(HYPERVISORS, estate["rhine"], "maintenance"), data)
    assert response.status_code == 400 and field in response.json()


def test_a_decommissioned_host_cannot_enter_maintenance(operator_api, estate):
    Host.objects.filter(pk=estate["danube"].host_id).update(status="decommissioned")
    response = operator_api.post(url(HYPERVISORS, estate["danube"], "maintenance"), {})
    assert response.status_code == 400
    assert "cannot go from decommissioned to maintenance" in response.json()["non_field_errors"][0]


def test_leave_maintenance(operator_api, operator, estate):
    refused = operator_api.post(url(HYPERVISORS, estate["danube"], "leave-maintenance"))
    assert refused.status_code == 400 and "not in maintenance" in refused.json()["non_field_errors"][0]
    Host.objects.filter(pk=estate["danube"].host_id).update(status="maintenance")
    response = operator_api.post(url(HYPERVISORS, estate["danube"], "leave-maintenance"))
    assert response.status_code == 200
    assert response.json()["host_status"] == "active"
    assert JournalEntry.objects.filter(host=estate["danube"].host, author=operator,
                                       text__contains="left maintenance").exists()


def test_capacity_per_site(viewer_api, estate):
    response = viewer_api.get(f"{API}/capacity/")
    assert response.status_code == 200
    assert response.json() == [
        {"site": "Amsterdam DC1", "hypervisors": 3, "vcpus": 96, "vcpus_used": 3, "vcpu_percent": 3,
         "memory_mib": 12288, "memory_used_mib": 1536, "memory_percent": 12},
        {"site": "Berlin", "hypervisors": 1, "vcpus": 32, "vcpus_used": 0, "vcpu_percent": 0,
         "memory_mib": 4096, "memory_used_mib": 0, "memory_percent": 0},
    ]


# --- VMs: reading ------------------------------------------------------------------------


def test_vm_representation(viewer_api, estate):
    body = viewer_api.get(url(VMS, estate["luna"])).json()
    assert body["name"] == "luna" and body["uuid"] == str(estate["luna"].uuid)
    assert (body["hypervisor"], body["hypervisor_name"], body["state"], body["stale"]) == (
        estate["rhine"].pk, "rhine", "running", False)
    assert (body["vcpus"], body["memory_mib"], body["role"], body["tags"], body["ha_enabled"], body["owner"]) == (
        2, 1024, "app", ["prod"], True, "moons")
    assert viewer_api.get(url(VMS, estate["ghost"])).json()["stale"] is True


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", ["ghost", "io", "luna", "titan"]),
        ("state=running", ["luna", "titan"]),
        ("role=app", ["luna"]),
        ("tag=prod", ["luna"]),
        ("ha=true", ["luna"]),
        ("ha=false", ["ghost", "io", "titan"]),
        ("stale=true", ["ghost"]),
        ("q=lun", ["luna"]),
        ("q=moons", ["luna"]),
        ("owner=MOONS", ["luna"]),
        ("site=ber1", ["titan"]),
        ("ordering=-memory_mib", ["ghost", "luna", "io", "titan"]),
    ],
)
def test_vm_filters(viewer_api, estate, query, expected):
    make_vm(estate["oder"], "titan", memory_mib=64)
    response = viewer_api.get(f"{VMS}?{query}")
    assert response.status_code == 200, response.json()
    assert [row["name"] for row in response.json()["results"]] == expected


def test_vms_migrated_to_the_cloud_are_found_by_filter(viewer_api, estate):
    VirtualMachine.objects.filter(name="io").update(state="shutoff", cloud_instance_id="i-0123456789abcdef0")
    migrated = viewer_api.get(f"{VMS}?migrated=true").json()["results"]
    assert [(vm["name"], vm["cloud_instance_id"]) for vm in migrated] == [("io", "i-0123456789abcdef0")]
    assert "io" not in [vm["name"] for vm in viewer_api.get(f"{VMS}?migrated=false").json()["results"]]


def test_vm_filters_by_hypervisor_and_uuid(viewer_api, estate):
    make_vm(estate["oder"], "titan")
    by_hypervisor = viewer_api.get(f"{VMS}?hypervisor={estate['oder'].pk}").json()["results"]
    assert [row["name"] for row in by_hypervisor] == ["titan"]
    by_uuid = viewer_api.get(f"{VMS}?q={estate['io'].uuid}").json()["results"]
    assert [row["name"] for row in by_uuid] == ["io"]


@pytest.mark.parametrize("query", ["state=exploded", "hypervisor=999999", "role=no-such-role",
                                   "tag=nope", "site=nowhere", "hypervisor=abc"])
def test_bad_vm_filters_are_400_not_500(viewer_api, estate, query):
    response = viewer_api.get(f"{VMS}?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()


def test_vm_list_runs_a_fixed_number_of_queries(viewer_api, site, app_role, prod):
    hypervisor = make_hypervisor(site, "rhine")
    other = Tag.objects.create(name="PCI", slug="pci")
    inventory_role = Role.objects.create(name="Web server", slug="web")

    def grow(first, count):
        vms = VirtualMachine.objects.bulk_create(
            VirtualMachine(uuid=_uuid(f"vm{n}"), name=f"vm{n:04d}", hypervisor=hypervisor, state="running",
                           role=app_role if n % 2 else inventory_role,
                           inventory_host=Host.objects.create(hostname=f"svc{n:04d}", site=site))
            for n in range(first, first + count)
        )
        VirtualMachine.tags.through.objects.bulk_create(
            VirtualMachine.tags.through(virtualmachine_id=vm.pk, tag_id=tag.pk) for vm in vms for tag in (prod, other)
        )

    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = viewer_api.get(f"{VMS}?limit=1000")
        assert response.status_code == 200
        return len(captured), response.json()["count"]

    grow(0, 10)
    small = queries()
    grow(10, 190)
    large = queries()
    assert (small[1], large[1]) == (10, 200)
    assert small[0] == large[0], f"{small[0]} queries for 10 VMs, {large[0]} for 200"


# --- VMs: our own fields -----------------------------------------------------------------


def test_patch_changes_our_own_fields(operator_api, operator, estate, site, prod):
    service = Host.objects.create(hostname="io-svc", site=site)
    db_role = Role.objects.create(name="Database server", slug="db")
    response = operator_api.patch(url(VMS, estate["io"]), {
        "ha_enabled": True, "anti_affinity_group": "moons", "role": "db", "inventory_host": service.pk,
        "tags": ["prod"], "owner": "team-io",
    })
    assert response.status_code == 200, response.json()
    io = VirtualMachine.objects.get(pk=estate["io"].pk)
    assert (io.ha_enabled, io.anti_affinity_group, io.role, io.inventory_host, io.owner) == (
        True, "moons", db_role, service, "team-io")
    assert list(io.tags.all()) == [prod]
    assert response.json()["inventory_hostname"] == "io-svc"
    assert LogEntry.objects.get_for_object(io).latest("timestamp").actor == operator


def test_patch_refuses_to_change_what_libvirt_owns(operator_api, estate):
    response = operator_api.patch(url(VMS, estate["luna"]), {"state": "shutoff", "vcpus": 64, "owner": "x"})
    assert response.status_code == 400
    assert set(response.json()) == {"state", "vcpus"}
    luna = VirtualMachine.objects.get(pk=estate["luna"].pk)
    assert (luna.state, luna.vcpus, luna.owner) == ("running", 2, "moons")


def test_a_vm_sent_back_as_read_is_accepted(operator_api, estate):
    body = operator_api.get(url(VMS, estate["luna"])).json()
    body["owner"] = "planets"
    response = operator_api.patch(url(VMS, estate["luna"]), body)
    assert response.status_code == 200, response.json()
    assert VirtualMachine.objects.get(pk=estate["luna"].pk).owner == "planets"


@pytest.mark.parametrize(
    "data, field",
    [({"role": "no-such-role"}, "role"), ({"tags": ["nope"]}, "tags"), ({"inventory_host": 999999}, "inventory_host"),
     ({"ha_enabled": "sometimes"}, "ha_enabled"), ({"anti_affinity_group": "x" * 65}, "anti_affinity_group")],
)
def test_bad_patch_gives_field_errors(operator_api, estate, data, field):
    response = operator_api.patch(url(VMS, estate["luna"]), data)
    assert response.status_code == 400 and field in response.json()


def test_an_inventory_host_is_one_vm(operator_api, estate, site):
    service = Host.objects.create(hostname="svc", site=site)
    VirtualMachine.objects.filter(pk=estate["luna"].pk).update(inventory_host=service)
    response = operator_api.patch(url(VMS, estate["io"]), {"inventory_host": service.pk})
    assert response.status_code == 400 and "inventory_host" in response.json()


def test_vms_are_never_created_or_replaced_by_hand(admin_api, estate):
    assert admin_api.post(VMS, {"name": "fake", "uuid": str(_uuid("fake"))}).status_code == 405
    assert admin_api.put(url(VMS, estate["luna"]), {"owner": "x"}).status_code == 405


# --- VMs: actions ----------------------------------------------------------------------


def test_power_action_is_a_job(operator_api, operator, estate):
    job = job_of(operator_api.post(url(VMS, estate["luna"], "power"), {"action": "shutdown", "timeout": 30}))
    assert (job.kind, job.created_by) == ("hypervisors.power", operator)
    assert job.params == {"vm_id": estate["luna"].pk, "action": "shutdown", "timeout": 30}
    assert target_of(job) == ("virtualmachine", str(estate["luna"].pk))
    start = job_of(operator_api.post(url(VMS, estate["io"], "power"), {"action": "start"}))
    assert start.params == {"vm_id": estate["io"].pk, "action": "start"}  # a timeout steers only a shutdown


@pytest.mark.parametrize(
    "vm, data, field, message",
    [
        ("luna", {"action": "start"}, "action", "luna is already running"),
        ("io", {"action": "shutdown"}, "action", "io is shutoff; shutdown needs a running VM"),
        ("io", {"action": "reboot"}, "action", "reboot needs a running VM"),
        ("ghost", {"action": "start"}, "non_field_errors", "ghost is gone from libvirt"),
        ("luna", {"action": "explode"}, "action", "not a valid choice"),
        ("luna", {}, "action", "required"),
        ("luna", {"action": "shutdown", "timeout": 0}, "timeout", "greater than or equal to 1"),
    ],
)
def test_power_refusals_are_400(operator_api, estate, vm, data, field, message):
    response = operator_api.post(url(VMS, estate[vm], "power"), data)
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert not Job.objects.exists()


def test_a_vm_of_an_unreachable_hypervisor_is_refused_until_synced(operator_api, estate):
    VirtualMachine.objects.filter(pk=estate["luna"].pk).update(state="unknown")
    response = operator_api.post(url(VMS, estate["luna"], "power"), {"action": "force-off"})
    assert response.status_code == 400
    assert "state of luna is unknown" in response.json()["non_field_errors"][0]


def test_a_second_job_on_the_same_vm_is_a_409(operator_api, estate):
    first = job_of(operator_api.post(url(VMS, estate["luna"], "migrate"), {"target": estate["danube"].pk}))
    second = operator_api.post(url(VMS, estate["luna"], "power"), {"action": "force-off"})
    assert second.status_code == 409
    assert f"already being changed by job #{first.pk}" in second.json()["detail"]
    Job.objects.filter(pk=first.pk).update(state=Job.State.FAILED)
    holder = create_job("hypervisors.resize", "held")
    Job.objects.filter(pk=holder.pk).update(state=Job.State.RUNNING)
    VirtualMachine.objects.filter(pk=estate["luna"].pk).update(busy_job=holder)
    third = operator_api.post(url(VMS, estate["luna"], "migrate"), {})
    assert third.status_code == 409 and f"job #{holder.pk}" in third.json()["detail"]


def test_live_migration_to_a_chosen_target(operator_api, estate):
    response = operator_api.post(url(VMS, estate["luna"], "migrate"), {
        "target": estate["danube"].pk, "auto_converge": True, "bandwidth_mib_s": 50, "time_limit_s": 120})
    job = job_of(response)
    assert response.json()["target_name"] == "danube" and response.json()["live"] is True
    assert job.kind == "hypervisors.live_migrate"
    assert job.params == {"vm_id": estate["luna"].pk, "target_id": estate["danube"].pk, "auto_converge": True,
                          "bandwidth_mib_s": 50, "time_limit_s": 120}


def test_the_planner_chooses_when_no_target_is_given(operator_api, estate):
    make_vm(estate["danube"], "europa", vcpus=4, memory_mib=2048)
    response = operator_api.post(url(VMS, estate["luna"], "migrate"), {})
    job = job_of(response)
    assert response.json()["target_name"] == "thames"  # the roomiest candidate at the site
    assert job.params["target_id"] == estate["thames"].pk


def test_a_shut_off_vm_migrates_cold(operator_api, estate):
    response = operator_api.post(url(VMS, estate["io"], "migrate"), {"target": estate["danube"].pk})
    job = job_of(response)
    assert response.json()["live"] is False
    assert (job.kind, job.params) == ("hypervisors.cold_migrate", {"vm_id": estate["io"].pk,
                                                                   "target_id": estate["danube"].pk})


@pytest.mark.parametrize(
    "vm, target, data, message",
    [
        ("luna", "rhine", {}, "luna already runs on rhine"),
        ("luna", "oder", {}, "oder is unreachable (no route to host)"),
        ("io", "danube", {"live": True}, "io is shutoff; live migration needs a running VM"),
        ("luna", "danube", {"live": False}, "luna is running; cold migration needs a shut-off VM"),
    ],
)
def test_migration_to_a_target_that_cannot_take_it_is_400(operator_api, estate, vm, target, data, message):
    response = operator_api.post(url(VMS, estate[vm], "migrate"), {"target": estate[target].pk, **data})
    assert response.status_code == 400
    assert message in response.json()["target"][0]
    assert not Job.objects.exists()


def test_migration_to_a_host_without_room_is_refused_by_the_planner(operator_api, estate):
    Hypervisor.objects.filter(pk=estate["danube"].pk).update(cpu_overcommit=Decimal("0.1"))
    response = operator_api.post(url(VMS, estate["luna"], "migrate"), {"target": estate["danube"].pk})
    assert response.status_code == 400
    assert response.json()["target"] == [
        "danube cannot take luna: needs 2 vCPUs; hypervisors with enough memory have at most 0 vCPUs free "
        "under their overcommit ratio"
    ]


def test_migration_honours_anti_affinity(operator_api, estate):
    VirtualMachine.objects.filter(pk=estate["luna"].pk).update(anti_affinity_group="moons")
    make_vm(estate["danube"], "europa", anti_affinity_group="moons")
    response = operator_api.post(url(VMS, estate["luna"], "migrate"), {"target": estate["danube"].pk})
    assert response.status_code == 400 and "anti-affinity group 'moons'" in response.json()["target"][0]


def test_migration_with_no_candidate_at_all_is_400(operator_api, estate):
    Hypervisor.objects.exclude(pk=estate["rhine"].pk).update(enabled=False)
    response = operator_api.post(url(VMS, estate["luna"], "migrate"), {})
    assert response.status_code == 400
    assert response.json()["target"] == ["No hypervisor can take luna: no candidate hypervisor (enabled, active or "
                                         "spare, same site, not its own)"]


@pytest.mark.parametrize("data, field", [({"target": 999999}, "target"), ({"bandwidth_mib_s": -1}, "bandwidth_mib_s"),
                                         ({"time_limit_s": 1}, "time_limit_s"), ({"live": "sometimes"}, "live")])
def test_bad_migration_options_are_400(operator_api, estate, data, field):
    response = operator_api.post(url(VMS, estate["luna"], "migrate"), data)
    assert response.status_code == 400 and field in response.json()


def test_resize_of_a_shut_off_vm_is_a_job(operator_api, estate):
    job = job_of(operator_api.post(url(VMS, estate["io"], "resize"), {"vcpus": 4, "memory_mib": 2048}))
    assert (job.kind, job.params) == ("hypervisors.resize", {"vm_id": estate["io"].pk, "vcpus": 4,
                                                             "memory_mib": 2048})


@pytest.mark.parametrize(
    "vm, data, field, message",
    [
        ("luna", {"vcpus": 4, "memory_mib": 2048}, "non_field_errors", "luna is running; shut it down"),
        ("io", {"vcpus": 4, "memory_mib": 8192}, "non_field_errors", "rhine has no room to grow io: needs 7680 MiB"),
        ("io", {"vcpus": 0, "memory_mib": 512}, "vcpus", "greater than or equal to 1"),
        ("io", {"vcpus": 1}, "memory_mib", "required"),
    ],
)
def test_resize_refusals_are_400(operator_api, estate, vm, data, field, message):
    response = operator_api.post(url(VMS, estate[vm], "resize"), data)
    assert response.status_code == 400
    assert message in response.json()[field][0]


def test_deleting_a_vm_is_an_admins_act_as_in_the_console(operator_api, admin_api, estate):
    refused = operator_api.delete(f"{url(VMS, estate['io'])}?confirm=io&delete_disks=true")
    assert refused.status_code == 403 and not Job.objects.exists()


def test_delete_needs_the_vms_name_to_confirm(admin_api, estate):
    missing = admin_api.delete(url(VMS, estate["io"]))
    assert missing.status_code == 400 and "confirm" in missing.json()
    wrong = admin_api.delete(f"{url(VMS, estate['io'])}?confirm=luna")
    assert wrong.status_code == 400 and "confirm with the VM's name (io)" in wrong.json()["confirm"][0]
    assert not Job.objects.exists()

    job = job_of(admin_api.delete(f"{url(VMS, estate['io'])}?confirm=io&delete_disks=true"))
    assert (job.kind, job.params) == ("hypervisors.delete_vm", {"vm_id": estate["io"].pk, "delete_disks": True})
    Job.objects.filter(pk=job.pk).update(state=Job.State.SUCCEEDED)
    in_body = job_of(admin_api.delete(url(VMS, estate["io"]), {"confirm": "io"}))
    assert in_body.params["delete_disks"] is False


def test_a_stale_vm_cannot_be_deleted_through_libvirt(admin_api, estate):
    response = admin_api.delete(f"{url(VMS, estate['ghost'])}?confirm=ghost")
    assert response.status_code == 400 and "gone from libvirt" in response.json()["non_field_errors"][0]


@pytest.fixture
def moons(app_role):
    app_role.naming_scheme = NamingScheme.objects.create(name="Solar bodies",
                                                         names=["luna", "io", "titan", "rhea", "europa"])
    app_role.save()
    return app_role


def test_create_names_the_vm_from_the_roles_scheme(operator_api, estate, moons, site):
    Host.objects.create(hostname="titan", site=site)  # a host has it
    response = operator_api.post(f"{VMS}create/", {"hypervisor": estate["danube"].pk, "role": "app", "vcpus": 2,
                                                   "memory_mib": 256, "start": False})
    job = job_of(response)
    assert response.json()["name"] == "rhea"  # luna and io are VMs, titan a host
    assert job.kind == "hypervisors.create_vm" and target_of(job) == ("hypervisor", str(estate["danube"].pk))
    assert job.params == {"hypervisor_id": estate["danube"].pk, "role_id": moons.pk, "name": "rhea", "vcpus": 2,
                          "memory_mib": 256, "disk_gib": 0, "storage_dir": None, "start": False}


def test_create_takes_a_given_name_and_a_disk(operator_api, estate, settings):
    settings.OPSCONSOLE_VM_STORAGE_DIRS = ["/srv/guests"]
    job = job_of(operator_api.post(f"{VMS}create/", {
        "hypervisor": estate["danube"].pk, "name": "ghost", "vcpus": 1, "memory_mib": 64, "disk_gib": 2,
        "storage_dir": "/srv/guests"}))  # ghost is gone: its name is free again
    assert (job.params["name"], job.params["disk_gib"], job.params["storage_dir"]) == ("ghost", 2, "/srv/guests")


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"name": "luna"}, "name", "A VM named luna already exists"),
        ({"name": ""}, "name", "Give a name, or a role"),
        ({"name": "Not A Label"}, "name", "valid DNS label"),
        ({"name": "x", "hypervisor": "oder"}, "hypervisor", "oder is unreachable"),
        ({"name": "x", "memory_mib": 5000}, "hypervisor", "danube cannot take x: needs 5000 MiB"),
        ({"name": "x", "disk_gib": 1}, "storage_dir", "A disk needs the directory"),
        ({"name": "x", "disk_gib": 1, "storage_dir": "guests/../etc"}, "storage_dir", "absolute path"),
        ({"name": "x", "disk_gib": 1, "storage_dir": "/root"}, "storage_dir", "/root is not storage of danube"),
        ({"name": "x", "disk_gib": 1, "storage_dir": "/var/lib/libvirt/images/../../../etc"}, "storage_dir",
         "absolute path"),
        ({"name": "x", "vcpus": 0}, "vcpus", "greater than or equal to 1"),
        ({"name": "x", "hypervisor": 999999}, "hypervisor", "does not exist"),
        ({"name": "x", "role": "nope"}, "role", "does not exist"),
    ],
)
def test_create_refusals_are_400(operator_api, estate, data, field, message):
    if isinstance(data.get("hypervisor"), str):
        data = {**data, "hypervisor": estate[data["hypervisor"]].pk}
    payload = {"hypervisor": estate["danube"].pk, "vcpus": 1, "memory_mib": 64, **data}
    response = operator_api.post(f"{VMS}create/", payload)
    assert response.status_code == 400, response.json()
    assert message in " ".join(response.json()[field])
    assert not Job.objects.exists()


def test_create_with_an_exhausted_naming_scheme_is_400(operator_api, estate, moons):
    moons.naming_scheme.names = ["luna", "io"]
    moons.naming_scheme.save()
    response = operator_api.post(f"{VMS}create/", {"hypervisor": estate["danube"].pk, "role": "app", "vcpus": 1,
                                                   "memory_mib": 64})
    assert response.status_code == 400 and "no free name left" in response.json()["name"][0]


def test_create_on_a_host_in_maintenance_is_400(operator_api, estate):
    Host.objects.filter(pk=estate["danube"].host_id).update(status="maintenance")
    response = operator_api.post(f"{VMS}create/", {"hypervisor": estate["danube"].pk, "name": "x", "vcpus": 1,
                                                   "memory_mib": 64})
    assert response.status_code == 400 and "danube is maintenance" in response.json()["hypervisor"][0]


def test_the_schema_documents_the_endpoints(viewer_api):
    schema = viewer_api.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    for path, method in [("/api/hypervisors/hypervisors/{id}/sync/", "post"),
                         ("/api/hypervisors/hypervisors/{id}/evacuation-plan/", "get"),
                         ("/api/hypervisors/vms/{id}/migrate/", "post"), ("/api/hypervisors/vms/create/", "post"),
                         ("/api/hypervisors/vms/{id}/", "delete"), ("/api/hypervisors/capacity/", "get")]:
        assert method in paths[path], path
    assert "202" in paths["/api/hypervisors/vms/{id}/migrate/"]["post"]["responses"]
    assert "credentials" not in schema["components"]["schemas"]["Hypervisor"]["properties"]
