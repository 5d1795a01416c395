"""The demo estate tells the seed story, is valid inventory, and loads idempotently."""

import ipaddress

import pytest
from django.core.management import call_command

from inventory.demo import HOSTS, load_demo
from inventory.models import Host, HostStatus, Interface, JournalEntry, NamingScheme, Rack, Role, Site, Tag
from inventory.services import suggest_name

MODELS = (Site, Rack, NamingScheme, Role, Tag, Host, Interface, JournalEntry)


def counts():
    return {model.__name__: model.objects.count() for model in MODELS}


@pytest.fixture
def demo(db):
    return load_demo()


UNROUTED = ipaddress.ip_network("198.19.0.0/16")


def test_every_demo_host_is_created_and_valid(demo):
    assert sorted(demo.created) == sorted(spec.hostname for spec in HOSTS)
    assert demo.skipped == {}
    for host in Host.objects.all():
        host.full_clean()  # names, rack units without overlaps, strict naming, rack at the host's site
        assert host.interfaces.count() == 2
        # In 198.19.0.0/16, which the lab routes nowhere: checks of made-up hosts stay on the machine.
        assert all(ipaddress.ip_address(i.ip_address) in UNROUTED for i in host.interfaces.all())
        assert ipaddress.ip_address(host.mgmt_address) in UNROUTED and ipaddress.ip_address(host.bmc_address) in UNROUTED
    assert Site.objects.get(slug="ams1").name == "Amsterdam DC1"
    assert list(Rack.objects.values_list("name", "u_height")) == [(f"R0{n}", 42) for n in range(1, 5)]


def roles_of(*hostnames):
    return {h.hostname: h.role.slug if h.role else None for h in Host.objects.filter(hostname__in=hostnames)}


def test_the_story_names_and_roles(demo):
    assert set(roles_of("luna", "saturn", "jupiter").values()) == {"app"}
    assert set(roles_of("superman", "batman").values()) == {"db"}
    assert set(roles_of("odin", "hera", "thor").values()) == {"web"}
    assert roles_of("marvin") == {"marvin": "mail"}
    assert Host.objects.filter(role__slug="directory").exists()
    assert set(Host.objects.filter(status=HostStatus.SPARE).values_list("role", flat=True)) == {None}
    assert Host.objects.filter(status=HostStatus.SPARE).count() == 2
    assert Host.objects.filter(role__slug="hypervisor", status=HostStatus.PLANNED).count() == 3


def test_thor_remembers_the_lunch_debate(demo):
    note = Host.objects.get(hostname="thor").journal.get()
    assert "DB server or a web server" in note.text


def test_marvin_is_dead_and_being_repaired(demo):
    marvin = Host.objects.get(hostname="marvin")
    assert marvin.status == HostStatus.FAILED
    history = list(marvin.journal.order_by("created_at"))
    assert history[0].kind == JournalEntry.Kind.STATUS
    assert history[0].text.startswith("Status Active → Failed: Marvin is dead")
    assert [e.kind for e in history[1:]] == ["incident", "repair", "repair"]
    assert history[-1].created_at > history[0].created_at


def test_naming_schemes_suggest_the_next_free_names(demo):
    assert suggest_name(Role.objects.get(slug="app")) == "mars"
    assert suggest_name(Role.objects.get(slug="db")) == "wonderwoman"
    assert suggest_name(Role.objects.get(slug="web")) == "zeus"
    assert suggest_name(Role.objects.get(slug="hypervisor")) == "hv4"


def test_secrets_are_set_and_specs_are_realistic(demo):
    luna = Host.objects.get(hostname="luna")
    assert luna.bmc_password and luna.bmc_username
    assert luna.vendor in {"Dell", "HPE", "Supermicro"} and luna.model
    assert luna.memory_gib >= 64 and luna.cpu_cores >= 8 and luna.total_disk_gb > 0
    assert Host.objects.filter(tags__slug="pci").exists()


def test_loading_twice_changes_nothing(demo, django_assert_max_num_queries):
    before = counts()
    with django_assert_max_num_queries(30):  # only lookups: one per site, rack, scheme, role, tag, plus the hosts
        again = load_demo()
    assert again.created == []
    assert sorted(again.existing) == sorted(spec.hostname for spec in HOSTS)
    assert counts() == before


def test_a_reload_keeps_the_users_edits(demo):
    Host.objects.filter(hostname="luna").update(owner="Payments team", notes="moved to payments")
    Host.objects.filter(hostname="marvin").update(status=HostStatus.MAINTENANCE)
    Role.objects.filter(slug="app").update(description="Our Tomcats")
    load_demo()
    luna = Host.objects.get(hostname="luna")
    assert (luna.owner, luna.notes) == ("Payments team", "moved to payments")
    assert Host.objects.get(hostname="marvin").status == HostStatus.MAINTENANCE
    assert Role.objects.get(slug="app").description == "Our Tomcats"


def test_a_deleted_demo_host_comes_back_next_to_the_users_host(demo):
    """If the user put their own box in luna's rack units, luna returns without a position."""
    luna = Host.objects.get(hostname="luna")
    rack, position = luna.rack, luna.position
    luna.delete()
    Host.objects.create(hostname="mybox", site=rack.site, rack=rack, position=position)
    result = load_demo()
    assert result.created == ["luna"]
    luna = Host.objects.get(hostname="luna")
    assert luna.rack == rack and luna.position is None
    luna.full_clean()


def test_load_demo_command_reports_what_it_did(db, capsys):
    call_command("load_demo")
    assert f"created {len(HOSTS)} hosts" in capsys.readouterr().out
    call_command("load_demo")
    assert "nothing changed" in capsys.readouterr().out


def test_marvin_is_dead_and_the_big_disk_spare_can_take_over_the_mail(demo):
    from inventory.services.recovery import propose_replacement

    marvin = Host.objects.get(hostname="marvin")
    assert marvin.status == HostStatus.FAILED
    proposal = propose_replacement(marvin)
    assert proposal.spare.hostname == "spare-02"
    fits = {c["hostname"]: c for c in proposal.candidates}
    assert fits["spare-01"]["reasons"] and any("disk" in reason for reason in fits["spare-01"]["reasons"])
