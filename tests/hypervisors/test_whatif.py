"""What if it died now? The placement planner over the survivors of the site, for one
hypervisor or a whole rack; the N+1 check of every site; the API and the console pages."""

import uuid

import pytest
from django.urls import reverse

from hypervisors.models import Hypervisor, VirtualMachine
from hypervisors.services import whatif
from inventory.models import Host, Rack, Site

pytestmark = pytest.mark.django_db

GIB = 1024


class Estate:
    """Hypervisors and VMs written straight into the database (what a sync would record)."""

    def __init__(self, site):
        self.site = site
        self.racks = {}

    def hypervisor(self, name, memory_gib=64, cpus=16, status="active", rack=None, site=None, **extra):
        site = site or self.site
        if rack and rack not in self.racks:
            self.racks[rack] = Rack.objects.create(site=site, name=rack)
        host = Host.objects.create(hostname=name, site=site, status=status, cpu_cores=cpus,
                                   memory_mib=memory_gib * GIB, rack=self.racks.get(rack))
        extra.setdefault("shared_storage", True)
        return Hypervisor.objects.create(host=host, uri=f"test+tcp://127.0.0.1:1/{name}",
                                         cpu_overcommit=1, memory_overcommit=1, **extra)

    def vm(self, name, hypervisor, memory_gib=8, vcpus=2, ha=True, state="running", group=""):
        return VirtualMachine.objects.create(uuid=uuid.uuid4(), name=name, hypervisor=hypervisor, state=state,
                                             vcpus=vcpus, memory_mib=memory_gib * GIB, ha_enabled=ha,
                                             anti_affinity_group=group)


@pytest.fixture
def estate(site):
    return Estate(site)


def test_ha_vms_land_on_the_survivors_spares_first_and_nothing_is_touched(estate):
    hv1, hv2 = estate.hypervisor("hv1"), estate.hypervisor("hv2")
    spare = estate.hypervisor("hv9", status="spare")
    estate.hypervisor("hv-planned", status="planned")
    estate.hypervisor("hv-off", enabled=False)
    estate.hypervisor("hv-gone", connection=Hypervisor.Connection.UNREACHABLE)
    estate.hypervisor("fra-hv", site=Site.objects.create(name="Frankfurt", slug="fra1"))
    estate.vm("mail", hv1, memory_gib=16)
    estate.vm("ldap", hv1, memory_gib=8)
    estate.vm("batch", hv1, ha=False)
    estate.vm("old", hv1, state="shutoff")  # deliberately off: not restarted, not counted
    estate.vm("busy", hv2, memory_gib=40)
    before = list(VirtualMachine.objects.order_by("pk").values())

    result = whatif.hypervisor_what_if(hv1)

    assert result.survives
    assert {(m["vm"], m["target"]) for m in result.moves} == {("mail", "hv9"), ("ldap", "hv9")}
    assert result.stay_down == 1
    assert [c["name"] for c in result.candidates] == ["hv2", "hv9"]
    assert {c["name"]: c["free_memory_mib_after"] for c in result.candidates} == {
        "hv2": 24 * GIB, "hv9": 40 * GIB}
    assert list(VirtualMachine.objects.order_by("pk").values()) == before
    assert spare.host.status == "spare"


def test_what_cannot_be_placed_is_listed_with_the_reason(estate):
    hv1, hv2 = estate.hypervisor("hv1", memory_gib=64), estate.hypervisor("hv2", memory_gib=32)
    estate.hypervisor("hv3", memory_gib=32, shared_storage=False)
    estate.vm("huge", hv1, memory_gib=48)
    estate.vm("db-a", hv1, group="db")
    estate.vm("db-b", hv2, group="db")
    estate.vm("db-c", Hypervisor.objects.get(host__hostname="hv3"), group="db")

    result = whatif.hypervisor_what_if(hv1)

    assert not result.survives
    reasons = {row["vm"]: row["reason"] for row in result.unplaced}
    assert reasons["huge"] == "needs 49152 MiB of memory; the most any candidate has free is 24576 MiB"
    assert reasons["db-a"].startswith("anti-affinity group 'db' already has a VM on every hypervisor with room")
    # A hypervisor without shared storage: its VMs' disks die with it.
    local = whatif.hypervisor_what_if(Hypervisor.objects.get(host__hostname="hv3"))
    assert local.unplaced == [{"vm": "db-c", "vm_id": local.unplaced[0]["vm_id"], "vcpus": 2, "memory_mib": 8 * GIB,
                               "group": "db", "source": "hv3",
                               "reason": "its disks are not on shared storage (hv3 has none)"}]


def test_a_rack_dies_at_once_so_its_hypervisors_do_not_take_each_others_vms(estate):
    a1, a2 = estate.hypervisor("a1", rack="R01"), estate.hypervisor("a2", rack="R01")
    estate.hypervisor("b1", rack="R02", memory_gib=20)
    estate.vm("web1", a1)
    estate.vm("web2", a2)
    estate.vm("web3", a2)

    result = whatif.rack_what_if(estate.racks["R01"])

    assert [hv.name for hv in result.dead] == ["a1", "a2"]
    assert [c["name"] for c in result.candidates] == ["b1"]
    assert len(result.moves) == 2 and {m["target"] for m in result.moves} == {"b1"}
    assert [row["vm"] for row in result.unplaced] and not result.survives
    # One hypervisor of the rack alone is survivable: its neighbour takes the VM.
    assert whatif.hypervisor_what_if(a1).survives


def test_n_plus_one_flags_a_site_that_cannot_survive_its_largest_host(estate):
    ok_site = Site.objects.create(name="Berlin", slug="ber1")
    hv1, hv2 = estate.hypervisor("hv1", memory_gib=64), estate.hypervisor("hv2", memory_gib=64)
    estate.vm("big-a", hv1, memory_gib=40)
    estate.vm("big-b", hv1, memory_gib=20)
    estate.vm("small", hv2, memory_gib=30)  # hv2 holds less HA memory: hv1 is the largest
    b1 = estate.hypervisor("b1", site=ok_site)
    estate.hypervisor("b2", site=ok_site)
    estate.vm("tiny", b1)

    checks = whatif.n_plus_one()

    assert [(c.site.slug, c.survives, c.largest.name) for c in checks] == [("ams1", False, "hv1"),
                                                                           ("ber1", True, "b1")]
    assert [row["vm"] for row in checks[0].result.unplaced] == ["big-a"]
    assert [c.site.slug for c in whatif.sites_at_risk(checks)] == ["ams1"]


def test_n_plus_one_runs_a_fixed_number_of_queries(estate, django_assert_max_num_queries):
    def grow(prefix, site):
        for n in range(3):
            hv = estate.hypervisor(f"{prefix}{n}", site=site)
            estate.vm(f"{prefix}{n}-vm", hv, group="g")

    grow("a", estate.site)
    with django_assert_max_num_queries(5):
        assert len(whatif.n_plus_one()) == 1
    for number in range(4):
        grow(f"s{number}x", Site.objects.create(name=f"Site {number}", slug=f"s{number}"))
    with django_assert_max_num_queries(5):
        assert len(whatif.n_plus_one()) == 5


# --- API ------------------------------------------------------------------------------------------


def test_api_what_if_for_a_hypervisor_and_a_rack(estate, viewer_api):
    hv1 = estate.hypervisor("hv1", rack="R01")
    estate.hypervisor("hv2")
    estate.vm("mail", hv1)

    answer = viewer_api.get(reverse("hypervisor-what-if"), {"hypervisor": hv1.pk})
    assert answer.status_code == 200, answer.data
    assert answer.data["survives"] and [m["target"] for m in answer.data["moves"]] == ["hv2"]
    by_rack = viewer_api.get(reverse("hypervisor-what-if"), {"rack": estate.racks["R01"].pk, "policy": "spread"})
    assert by_rack.status_code == 200 and by_rack.data["dead"] == [{"id": hv1.pk, "name": "hv1"}]


@pytest.mark.parametrize("query", [{}, {"hypervisor": 1, "rack": 1}, {"hypervisor": "x"}, {"hypervisor": 99999},
                                   {"rack": "1\x00"}, {"hypervisor": 1, "policy": "random"}])
def test_api_what_if_refuses_bad_queries_with_400(estate, viewer_api, query):
    estate.hypervisor("hv1", rack="R01")
    answer = viewer_api.get(reverse("hypervisor-what-if"), query)
    assert answer.status_code == 400


def test_api_n_plus_one_needs_a_login_and_is_read_only(estate, viewer_api, anon_api, operator_api):
    hv1 = estate.hypervisor("hv1")
    estate.vm("alone", hv1)
    assert anon_api.get(reverse("hypervisor-n-plus-one")).status_code in (401, 403)
    answer = viewer_api.get(reverse("hypervisor-n-plus-one"))
    assert answer.status_code == 200
    assert answer.data[0]["survives"] is False and answer.data[0]["largest"]["name"] == "hv1"
    assert answer.data[0]["unplaced"][0]["reason"].startswith("no candidate hypervisor")
    assert operator_api.post(reverse("hypervisor-n-plus-one")).status_code == 405


# --- console ------------------------------------------------------------------------------------


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


def test_what_if_page_of_a_hypervisor(estate, viewer_client, django_assert_max_num_queries):
    hv1 = estate.hypervisor("hv1")
    estate.hypervisor("hv2", memory_gib=8)
    estate.vm("fits", hv1, memory_gib=4)
    estate.vm("toolarge", hv1, memory_gib=32)
    url = reverse("hypervisors:hypervisor_what_if", args=[hv1.pk])
    assert url in viewer_client.get(hv1.get_absolute_url()).content.decode()

    with django_assert_max_num_queries(12):
        page = viewer_client.get(url).content.decode()

    assert 'data-survives="no"' in page and 'data-vm="toolarge"' in page
    assert 'data-vm="fits" data-target="hv2"' in page
    assert "needs 32768 MiB of memory" in page


def test_what_if_page_of_a_rack_and_its_empty_state(estate, viewer_client):
    estate.hypervisor("hv1", rack="R01")
    empty = Rack.objects.create(site=estate.site, name="R09")
    page = viewer_client.get(reverse("hypervisors:rack_what_if", args=[estate.racks["R01"].pk])).content.decode()
    assert 'data-survives="yes"' in page and "No HA VM runs on hv1" in page
    rack_page = viewer_client.get(empty.get_absolute_url()).content.decode()
    assert reverse("hypervisors:rack_what_if", args=[empty.pk]) in rack_page
    page = viewer_client.get(reverse("hypervisors:rack_what_if", args=[empty.pk])).content.decode()
    assert 'id="what-if-empty"' in page


def test_dashboard_flags_the_site_that_cannot_survive_its_largest_host(estate, viewer_client):
    hv1 = estate.hypervisor("hv1")
    estate.vm("lonely", hv1)
    page = viewer_client.get(reverse("dashboard")).content.decode()
    assert 'id="n-plus-one"' in page
    assert 'data-site="ams1" data-survives="no"' in page and "cannot survive losing" in page
