"""Inventory invariants: host names, the lifecycle, rack space, naming schemes."""

import pytest
from django.core.exceptions import ValidationError

from inventory.models import Host, HostStatus, JournalEntry, NamingScheme, Rack, Role, Site, check_transition
from inventory.services import change_status, free_names, record_cloud_move, suggest_name, undo_cloud_move
from inventory.validators import validate_dns_label


def errors_of(instance):
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


# --- Host names are DNS labels ------------------------------------------------------


@pytest.mark.parametrize("name", ["luna", "web-01", "a", "0", "x" * 63, "hv1"])
def test_valid_dns_labels(name):
    validate_dns_label(name)


@pytest.mark.parametrize(
    "name", ["", "Marvin", "-luna", "luna-", "lu_na", "luna.ams1", "x" * 64, "thor ", "odín"]
)
def test_invalid_dns_labels(name):
    with pytest.raises(ValidationError):
        validate_dns_label(name)


def test_host_with_a_bad_name_gets_a_hostname_error(site):
    assert "hostname" in errors_of(Host(hostname="Marvin", site=site))


# --- The lifecycle -------------------------------------------------------------------


def test_change_status_moves_the_host_and_writes_the_journal(host, operator):
    change_status(host, HostStatus.MAINTENANCE, user=operator, reason="replacing a fan")
    host.refresh_from_db()
    assert host.status == HostStatus.MAINTENANCE
    entry = host.journal.get()
    assert entry.kind == JournalEntry.Kind.STATUS
    assert entry.author == operator
    assert entry.text == "Status Active → Maintenance: replacing a fan"


def test_change_status_to_the_same_status_writes_nothing(host):
    change_status(host, HostStatus.ACTIVE)
    assert not host.journal.exists()


@pytest.mark.parametrize(
    "start, forbidden",
    [
        (HostStatus.FAILED, HostStatus.ACTIVE),  # a dead box is repaired (maintenance) first
        (HostStatus.PLANNED, HostStatus.MAINTENANCE),
        (HostStatus.DECOMMISSIONED, HostStatus.ACTIVE),  # final
        (HostStatus.DECOMMISSIONED, HostStatus.SPARE),
    ],
)
def test_forbidden_transitions_are_refused_and_leave_no_trace(host, start, forbidden):
    Host.objects.filter(pk=host.pk).update(status=start)
    with pytest.raises(ValidationError) as caught:
        change_status(host, forbidden)
    assert "status" in caught.value.message_dict
    host.refresh_from_db()
    assert host.status == start
    assert not host.journal.exists()


def test_the_marvin_story_is_a_valid_path(host):
    for status in (HostStatus.FAILED, HostStatus.MAINTENANCE, HostStatus.ACTIVE, HostStatus.DECOMMISSIONED):
        change_status(host, status)
    assert host.journal.count() == 4
    assert Host.objects.get(pk=host.pk).status == HostStatus.DECOMMISSIONED


def test_anything_but_decommissioned_may_be_decommissioned():
    for status in HostStatus:
        if status != HostStatus.DECOMMISSIONED:
            check_transition(status, HostStatus.DECOMMISSIONED)


def test_a_move_to_the_cloud_marks_the_host_migrated_and_a_rollback_restores_it(host, operator):
    Host.objects.filter(pk=host.pk).update(status=HostStatus.MAINTENANCE)
    before = record_cloud_move(host, "i-0123456789abcdef0", user=operator, reason="cut over to EC2")
    host.refresh_from_db()
    assert (before, host.status, host.cloud_instance_id) == ("maintenance", "migrated", "i-0123456789abcdef0")
    assert host.journal.get().text == "Status Maintenance → Migrated: cut over to EC2"
    with pytest.raises(ValidationError):
        check_transition(HostStatus.MIGRATED, HostStatus.SPARE)  # back only the way it came, or decommissioned

    undo_cloud_move(host, user=operator, reason="rolled back")
    host.refresh_from_db()
    assert (host.status, host.cloud_instance_id) == ("active", "")  # maintenance is not a way back: active
    assert host.journal.order_by("-pk").first().text == "Status Migrated → Active: rolled back"


def test_a_failed_host_moved_to_the_cloud_keeps_its_status_and_says_why(host):
    Host.objects.filter(pk=host.pk).update(status=HostStatus.FAILED)
    record_cloud_move(host, "db-luna", reason="cut over to RDS")
    host.refresh_from_db()
    assert (host.status, host.cloud_instance_id) == ("failed", "db-luna")
    assert "status stays failed" in host.journal.get().text


def test_full_clean_refuses_a_forbidden_status_edit(host):
    host.status = HostStatus.PLANNED  # active -> planned is not a lifecycle step
    assert "status" in errors_of(host)


# --- Rack space ------------------------------------------------------------------------


def rack_host(rack, name, position, u_height=1, **fields):
    return Host(hostname=name, site=rack.site, rack=rack, position=position, u_height=u_height, **fields)


def test_hosts_may_not_share_rack_units(rack):
    rack_host(rack, "luna", 10, u_height=2).save()  # units 10-11
    assert "overlap luna" in errors_of(rack_host(rack, "saturn", 11))["position"][0]
    assert "overlap luna" in errors_of(rack_host(rack, "saturn", 8, u_height=3))["position"][0]
    rack_host(rack, "saturn", 12).full_clean()
    rack_host(rack, "saturn", 9).full_clean()


def test_a_host_does_not_overlap_itself(rack):
    luna = rack_host(rack, "luna", 10, u_height=2)
    luna.save()
    luna.u_height = 3
    luna.full_clean()


def test_same_units_in_another_rack_are_free(rack):
    rack_host(rack, "luna", 10).save()
    other = Rack.objects.create(site=rack.site, name="R02")
    rack_host(other, "saturn", 10).full_clean()


def test_a_host_must_fit_in_its_rack(rack):
    rack_host(rack, "luna", 41, u_height=2).full_clean()  # units 41-42 of 42
    assert "do not fit" in errors_of(rack_host(rack, "saturn", 42, u_height=2))["position"][0]


def test_a_position_needs_a_rack(site):
    assert "position" in errors_of(Host(hostname="luna", site=site, position=3))


def test_the_rack_must_be_at_the_hosts_site(rack):
    elsewhere = Site.objects.create(name="Rotterdam DC2", slug="rtm2")
    host = Host(hostname="luna", site=elsewhere, rack=rack)
    assert "not this host's site" in errors_of(host)["rack"][0]


# --- Naming schemes --------------------------------------------------------------------


@pytest.fixture
def solar(db):
    return NamingScheme.objects.create(name="Solar bodies", names=["luna", "saturn", "jupiter"])


@pytest.fixture
def strict_role(solar):
    return Role.objects.create(name="App server", slug="app", naming_scheme=solar, strict_naming=True)


def test_strict_naming_takes_names_from_the_pool_only(site, strict_role):
    assert "not in it" in errors_of(Host(hostname="batman", site=site, role=strict_role))["hostname"][0]
    Host(hostname="saturn", site=site, role=strict_role).full_clean()


def test_loose_naming_allows_any_name(site, strict_role):
    strict_role.strict_naming = False
    strict_role.save()
    Host(hostname="batman", site=site, role=strict_role).full_clean()


def test_free_names_follow_the_pool_order_and_skip_taken_names(site, strict_role, django_assert_num_queries):
    Host.objects.create(hostname="luna", site=site)
    role = Role.objects.get(pk=strict_role.pk)
    with django_assert_num_queries(2):  # the scheme and the taken names, whatever the pool size
        assert free_names(role) == ["saturn", "jupiter"]
    assert suggest_name(role) == "saturn"


def test_suggest_name_is_none_when_the_pool_is_used_up(site, strict_role):
    for name in ("luna", "saturn", "jupiter"):
        Host.objects.create(hostname=name, site=site)
    assert free_names(strict_role) == []
    assert suggest_name(strict_role) is None


def test_a_role_without_a_scheme_suggests_nothing(db):
    role = Role.objects.create(name="Spare", slug="spare")
    assert free_names(role) == []
    assert suggest_name(role) is None


@pytest.mark.parametrize("names", [["luna", "luna"], ["luna", "Saturn"], "luna", [1, 2]])
def test_a_naming_scheme_pool_must_be_distinct_valid_names(db, names):
    assert "names" in errors_of(NamingScheme(name="Bad", names=names))
