"""Console host pages: list, detail, create/edit/delete, status, journal, name suggestion."""

import re

from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from health.models import HostHealth
from inventory.models import Host, HostStatus, Interface, JournalEntry, NamingScheme, Rack, Role, Tag

HTMX = {"HTTP_HX_REQUEST": "true"}


def logged_in(client, user):
    client.force_login(user)
    return client


def host_post_data(site, **overrides):
    """A complete, valid host form submission (no interfaces)."""
    data = {
        "hostname": "europa",
        "status": "planned",
        "site": site.pk,
        "u_height": 1,
        "cpu_sockets": 2,
        "cpu_cores": 32,
        "memory_mib": 65536,
        "disks": "sda:480:ssd, sdb:4000:hdd",
        "interfaces-TOTAL_FORMS": 0,
        "interfaces-INITIAL_FORMS": 0,
        "interfaces-MIN_NUM_FORMS": 0,
        "interfaces-MAX_NUM_FORMS": 1000,
    }
    data.update(overrides)
    return data


def edit_data(host, **overrides):
    """The edit form as the browser would send it for this host, with overrides."""
    interfaces = list(host.interfaces.all())
    data = host_post_data(
        host.site,
        hostname=host.hostname,
        status=host.status,
        role=host.role_id or "",
        rack=host.rack_id or "",
        position=host.position or "",
        u_height=host.u_height,
        cpu_sockets=host.cpu_sockets,
        cpu_cores=host.cpu_cores,
        memory_mib=host.memory_mib,
        disks="",
        **{"interfaces-TOTAL_FORMS": len(interfaces), "interfaces-INITIAL_FORMS": len(interfaces)},
    )
    for index, interface in enumerate(interfaces):
        data.update(
            {
                f"interfaces-{index}-id": interface.pk,
                f"interfaces-{index}-name": interface.name,
                f"interfaces-{index}-mac_address": interface.mac_address,
                f"interfaces-{index}-ip_address": interface.ip_address or "",
            }
        )
    data.update(overrides)
    return data


def field_error(response, field):
    """The text of the invalid-feedback shown for a field, or '' when it has none."""
    html = response.content.decode()
    widget = re.search(rf'<[^>]*id="id_{field}"[^>]*>', html)
    assert widget, f"field {field} not rendered"
    if "is-invalid" not in widget.group(0):
        return ""
    return " ".join(re.findall(r'class="invalid-feedback[^"]*">([^<]*)<', html[widget.end():widget.end() + 2000])[:1])


# --- list -----------------------------------------------------------------------------


def test_host_list_renders_for_viewer_with_columns_and_no_edit_buttons(client, viewer, host):
    host.tags.add(Tag.objects.create(name="production", slug="production"))
    response = logged_in(client, viewer).get(reverse("inventory:host_list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="host-table"' in html
    assert reverse("inventory:host_detail", args=[host.pk]) in html
    assert "R01" in html and "U10" in html and "production" in html
    assert 'data-status="active"' in html
    assert reverse("inventory:host_add") not in html


def test_host_list_shows_add_button_to_operator(client, operator, host):
    response = logged_in(client, operator).get(reverse("inventory:host_list"))
    assert reverse("inventory:host_add") in response.content.decode()


def hostnames_in(response):
    return re.findall(r'data-hostname="([^"]+)"', response.content.decode())


def test_host_list_filters_by_status_role_site_tag_and_search(client, viewer, site, rack, app_role):
    db_role = Role.objects.create(name="Database", slug="db")
    tag = Tag.objects.create(name="pci", slug="pci")
    Host.objects.create(hostname="luna", site=site, role=app_role, status="active")
    Host.objects.create(hostname="marvin", site=site, role=db_role, status="failed", serial="XYZ-1").tags.add(tag)
    Host.objects.create(hostname="batman", site=site, role=db_role, status="active")
    client = logged_in(client, viewer)
    url = reverse("inventory:host_list")
    assert hostnames_in(client.get(url, {"status": "failed"})) == ["marvin"]
    assert hostnames_in(client.get(url, {"role": "db"})) == ["batman", "marvin"]
    assert hostnames_in(client.get(url, {"tag": "pci"})) == ["marvin"]
    assert hostnames_in(client.get(url, {"q": "xyz"})) == ["marvin"]
    assert hostnames_in(client.get(url, {"site": site.slug, "role": "app"})) == ["luna"]


def test_host_list_bad_filter_value_is_reported_not_a_500(client, viewer, host):
    response = logged_in(client, viewer).get(reverse("inventory:host_list"), {"status": "exploded"})
    assert response.status_code == 200
    assert 'id="filter-errors"' in response.content.decode()


def test_host_list_sorts_by_column(client, viewer, site):
    for name, cores in (("alpha", 8), ("bravo", 64), ("charlie", 16)):
        Host.objects.create(hostname=name, site=site, cpu_cores=cores)
    client = logged_in(client, viewer)
    assert hostnames_in(client.get(reverse("inventory:host_list"), {"sort": "-cpu_cores"})) == ["bravo", "charlie", "alpha"]
    assert hostnames_in(client.get(reverse("inventory:host_list"), {"sort": "hostname"})) == ["alpha", "bravo", "charlie"]


def test_host_list_paginates(client, viewer, site):
    Host.objects.bulk_create([Host(hostname=f"node{i:03d}", site=site) for i in range(60)])
    client = logged_in(client, viewer)
    assert len(hostnames_in(client.get(reverse("inventory:host_list")))) == 50
    assert hostnames_in(client.get(reverse("inventory:host_list"), {"page": 2}))[0] == "node050"


def make_hosts(count, site, rack, role, tags, start=0):
    hosts = Host.objects.bulk_create(
        [
            Host(hostname=f"h{i:04d}", site=site, role=role, rack=rack if i < 40 else None,
                 position=i + 1 if i < 40 else None, status="active", mgmt_address=f"10.1.{i // 250}.{i % 250}")
            for i in range(start, start + count)
        ]  # fmt: skip
    )
    through = Host.tags.through
    through.objects.bulk_create([through(host_id=h.pk, tag_id=t.pk) for h in hosts for t in tags])
    Interface.objects.bulk_create([Interface(host=h, name="eth0") for h in hosts])
    # Half of them checked: the health column must not cost a query per row either way.
    HostHealth.objects.bulk_create([HostHealth(host=h, state="healthy", since=timezone.now()) for h in hosts[::2]])


def count_list_queries(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("inventory:host_list"), {"per_page": 1000})
    assert response.status_code == 200
    return len(queries), len(hostnames_in(response))


def test_host_list_query_count_does_not_grow_with_hosts(client, viewer, site, app_role):
    rack = Rack.objects.create(site=site, name="R99", u_height=42)
    tags = [Tag.objects.create(name=n, slug=n) for n in ("prod", "pci")]
    client = logged_in(client, viewer)
    make_hosts(10, site, rack, app_role, tags)
    few, rows = count_list_queries(client)
    assert rows == 10
    make_hosts(490, site, rack, app_role, tags, start=10)
    many, rows = count_list_queries(client)
    assert rows == 500
    assert many == few


def test_host_list_shows_each_hosts_health(client, viewer, site, app_role):
    sick, unchecked = (Host.objects.create(hostname=n, site=site, role=app_role, status="active") for n in ("marvin", "earth"))
    HostHealth.objects.create(host=sick, state="failed", since=timezone.now())
    html = logged_in(client, viewer).get(reverse("inventory:host_list")).content.decode()
    rows = dict(re.findall(r'data-hostname="([^"]+)".*?data-health="([^"]+)"', html, re.S))
    assert rows == {"earth": "unchecked", "marvin": "failed"}


def test_host_detail_loads_the_health_panel(client, viewer, host):
    html = logged_in(client, viewer).get(host.get_absolute_url()).content.decode()
    assert f'hx-get="{reverse("health:host_panel", args=[host.pk])}"' in html
    panel = client.get(reverse("health:host_panel", args=[host.pk]))
    assert panel.status_code == 200 and b'id="health-panel"' in panel.content


# --- detail ---------------------------------------------------------------------------


def test_host_detail_renders_specs_interfaces_journal_history_and_rack(client, viewer, host):
    Interface.objects.create(host=host, name="eth0", mac_address="52:54:00:aa:bb:cc", ip_address="10.0.0.5")
    JournalEntry.objects.create(host=host, text="Replaced PSU 2")
    host.disks = [{"name": "sda", "size_gb": 480, "kind": "ssd"}]
    host.save()
    response = logged_in(client, viewer).get(reverse("inventory:host_detail", args=[host.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "52:54:00:aa:bb:cc" in html and "Replaced PSU 2" in html and "sda 480 GB ssd" in html
    assert 'id="host-changelog"' in html
    assert 'class="rack-elevation compact"' in html and "U10" in html
    # A viewer gets no edit, delete, status or journal controls.
    assert reverse("inventory:host_edit", args=[host.pk]) not in html
    assert reverse("inventory:host_status", args=[host.pk]) not in html
    assert 'id="journal-form"' not in html


def test_host_detail_offers_only_allowed_transitions_to_operator(client, operator, host):
    html = logged_in(client, operator).get(reverse("inventory:host_detail", args=[host.pk])).content.decode()
    offered = set(re.findall(r'name="status" value="([a-z]+)"', html))
    assert offered == {"maintenance", "failed", "spare", "migrated", "decommissioned"}


def test_host_detail_never_shows_the_bmc_password(client, admin_user, host):
    host.bmc_password = "s3cret-bmc-pass"
    host.save()
    client = logged_in(client, admin_user)
    for url in (reverse("inventory:host_detail", args=[host.pk]), reverse("inventory:host_edit", args=[host.pk])):
        assert "s3cret-bmc-pass" not in client.get(url).content.decode()


# --- create and edit --------------------------------------------------------------------


def test_operator_creates_host_with_interfaces_tags_and_disks(client, operator, site, rack):
    tag = Tag.objects.create(name="production", slug="production")
    data = host_post_data(
        site, rack=rack.pk, position=20, tags=[tag.pk], bmc_password="hunter2",
        **{
            "interfaces-TOTAL_FORMS": 2,
            "interfaces-0-name": "eth0", "interfaces-0-mac_address": "52:54:00:AA:BB:CC", "interfaces-0-ip_address": "10.0.0.5",
            "interfaces-1-name": "", "interfaces-1-mac_address": "", "interfaces-1-ip_address": "",
        },
    )  # fmt: skip
    response = logged_in(client, operator).post(reverse("inventory:host_add"), data)
    host = Host.objects.get(hostname="europa")
    assert response.status_code == 302 and response["Location"] == host.get_absolute_url()
    assert host.disks == [{"name": "sda", "size_gb": 480, "kind": "ssd"}, {"name": "sdb", "size_gb": 4000, "kind": "hdd"}]
    assert list(host.tags.all()) == [tag]
    assert [(i.name, i.mac_address, i.ip_address) for i in host.interfaces.all()] == [
        ("eth0", "52:54:00:aa:bb:cc", "10.0.0.5")
    ]
    assert host.bmc_password == "hunter2"


def test_create_form_is_prefilled_from_a_free_rack_unit_link(client, operator, rack):
    response = logged_in(client, operator).get(reverse("inventory:host_add"), {"rack": rack.pk, "position": 7})
    form = response.context["form"]
    assert form["rack"].value() == str(rack.pk) and form["position"].value() == "7"
    assert form["site"].value() == rack.site_id


def test_operator_edits_host_and_blank_bmc_password_keeps_it(client, operator, host):
    host.bmc_password = "keep-me"
    host.save()
    Interface.objects.create(host=host, name="eth0", mac_address="52:54:00:aa:bb:01")
    data = edit_data(host, owner="platform", disks="nvme0:1T:nvme", bmc_password="")
    data["interfaces-0-ip_address"] = "10.9.9.9"
    response = logged_in(client, operator).post(reverse("inventory:host_edit", args=[host.pk]), data)
    assert response.status_code == 302
    host.refresh_from_db()
    assert host.owner == "platform"
    assert host.disks == [{"name": "nvme0", "size_gb": 1000, "kind": "nvme"}]
    assert host.interfaces.get().ip_address == "10.9.9.9"
    assert host.bmc_password == "keep-me"


def test_edit_can_clear_the_bmc_password(client, operator, host):
    host.bmc_password = "old"
    host.save()
    logged_in(client, operator).post(reverse("inventory:host_edit", args=[host.pk]), edit_data(host, clear_bmc_password="on"))
    host.refresh_from_db()
    assert host.bmc_password == ""


def test_edit_deletes_a_ticked_interface(client, operator, host):
    Interface.objects.create(host=host, name="eth0")
    data = edit_data(host, **{"interfaces-0-DELETE": "on"})
    assert logged_in(client, operator).post(reverse("inventory:host_edit", args=[host.pk]), data).status_code == 302
    assert not host.interfaces.exists()


def test_bad_hostname_shows_a_field_error(client, operator, site):
    response = logged_in(client, operator).post(reverse("inventory:host_add"), host_post_data(site, hostname="Bad_Name!"))
    assert response.status_code == 400
    assert "valid DNS label" in field_error(response, "hostname")
    assert not Host.objects.exists()


def test_overlapping_rack_units_show_a_field_error(client, operator, host, rack):
    # host "luna" sits at U10; a 2U host at U9 would cover U9-U10.
    data = host_post_data(host.site, rack=rack.pk, position=9, u_height=2)
    response = logged_in(client, operator).post(reverse("inventory:host_add"), data)
    assert "overlap luna" in field_error(response, "position")


def test_invalid_status_transition_on_edit_shows_a_field_error(client, operator, host):
    host.status = HostStatus.FAILED
    host.save()
    response = logged_in(client, operator).post(reverse("inventory:host_edit", args=[host.pk]), edit_data(host, status="active"))
    assert "cannot go from failed to active" in field_error(response, "status")
    host.refresh_from_db()
    assert host.status == "failed"


def test_strict_naming_shows_a_field_error(client, operator, site):
    scheme = NamingScheme.objects.create(name="Solar", names=["io", "europa"])
    role = Role.objects.create(name="App", slug="app2", naming_scheme=scheme, strict_naming=True)
    response = logged_in(client, operator).post(reverse("inventory:host_add"), host_post_data(site, hostname="zeus", role=role.pk))
    assert "names hosts strictly" in field_error(response, "hostname")


def test_bad_disks_and_interfaces_show_field_errors(client, operator, site):
    data = host_post_data(
        site, disks="sda:lots",
        **{"interfaces-TOTAL_FORMS": 1, "interfaces-0-name": "eth0", "interfaces-0-mac_address": "zz:zz",
           "interfaces-0-ip_address": "10.0.0.999"},
    )  # fmt: skip
    response = logged_in(client, operator).post(reverse("inventory:host_add"), data)
    assert "whole number of GB" in field_error(response, "disks")
    assert "MAC address" in field_error(response, "interfaces-0-mac_address")
    assert field_error(response, "interfaces-0-ip_address")
    assert not Host.objects.exists()


def test_suggest_name_returns_the_next_free_name_as_the_hostname_input(client, operator, site):
    scheme = NamingScheme.objects.create(name="Solar", names=["mercury", "venus", "earth"])
    role = Role.objects.create(name="App", slug="app3", naming_scheme=scheme)
    Host.objects.create(hostname="mercury", site=site)
    client = logged_in(client, operator)
    hint = client.get(reverse("inventory:host_name_hint"), {"role": role.pk}, **HTMX).content.decode()
    assert 'id="suggest-name"' in hint and "2 free names" in hint
    html = client.get(reverse("inventory:host_suggest_name"), {"role": role.pk}, **HTMX).content.decode()
    assert re.search(r'<input[^>]*id="id_hostname"', html) and 'value="venus"' in html


def test_name_hint_is_empty_for_a_role_without_scheme(client, operator, app_role):
    html = logged_in(client, operator).get(reverse("inventory:host_name_hint"), {"role": app_role.pk}, **HTMX)
    assert "suggest-name" not in html.content.decode()


# --- roles enforced -------------------------------------------------------------------


def test_viewer_gets_403_on_edit_pages_and_posts(client, viewer, host):
    client = logged_in(client, viewer)
    forbidden = [
        ("get", reverse("inventory:host_add")),
        ("get", reverse("inventory:host_edit", args=[host.pk])),
        ("post", reverse("inventory:host_add")),
        ("post", reverse("inventory:host_edit", args=[host.pk])),
        ("post", reverse("inventory:host_status", args=[host.pk])),
        ("post", reverse("inventory:host_journal", args=[host.pk])),
        ("get", reverse("inventory:host_delete", args=[host.pk])),
        ("post", reverse("inventory:host_delete", args=[host.pk])),
    ]
    for method, url in forbidden:
        assert getattr(client, method)(url).status_code == 403, (method, url)
    host.refresh_from_db()
    assert host.status == "active"


def test_operator_cannot_delete_but_admin_can(client, operator, admin_user, host):
    url = reverse("inventory:host_delete", args=[host.pk])
    assert logged_in(client, operator).post(url).status_code == 403
    assert Host.objects.filter(pk=host.pk).exists()
    client = logged_in(client, admin_user)
    assert "Delete" in client.get(url).content.decode()
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("inventory:host_list")
    assert not Host.objects.filter(pk=host.pk).exists()


def test_anonymous_is_sent_to_login(client, host):
    for url in (reverse("inventory:host_list"), reverse("inventory:host_detail", args=[host.pk]),
                reverse("inventory:host_add")):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url


# --- status and journal -------------------------------------------------------------------


def test_operator_changes_status_and_it_is_journaled(client, operator, host):
    url = reverse("inventory:host_status", args=[host.pk])
    response = logged_in(client, operator).post(url, {"status": "maintenance", "reason": "BIOS update"})
    assert response.status_code == 302
    host.refresh_from_db()
    assert host.status == "maintenance"
    entry = host.journal.get()
    assert entry.author == operator and "BIOS update" in entry.text


def test_invalid_status_change_gives_a_clear_message(client, operator, host):
    host.status = "failed"
    host.save()
    client = logged_in(client, operator)
    response = client.post(reverse("inventory:host_status", args=[host.pk]), {"status": "active"}, follow=True)
    assert "cannot go from failed to active" in response.content.decode()
    host.refresh_from_db()
    assert host.status == "failed"
    response = client.post(reverse("inventory:host_status", args=[host.pk]), {"status": "on-fire"}, follow=True)
    assert response.status_code == 200 and "is not a host status" in response.content.decode()


def test_journal_entry_added_with_htmx_returns_the_journal_partial(client, operator, host):
    url = reverse("inventory:host_journal", args=[host.pk])
    response = logged_in(client, operator).post(url, {"kind": "incident", "text": "Marvin is dead"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<section class="card shadow-sm mb-3" id="journal">')
    assert "Marvin is dead" in html and "<html" not in html
    entry = JournalEntry.objects.get(host=host)
    assert entry.author == operator and entry.kind == "incident"


def test_empty_journal_entry_shows_a_field_error(client, operator, host):
    response = logged_in(client, operator).post(
        reverse("inventory:host_journal", args=[host.pk]), {"kind": "note", "text": ""}, **HTMX
    )
    assert "This field is required" in field_error(response, "text")
    assert not JournalEntry.objects.exists()


# --- change log attribution ---------------------------------------------------------------


def test_host_created_in_the_console_is_attributed_to_the_user(client, operator, site):
    data = host_post_data(site, hostname="titan", **{"interfaces-TOTAL_FORMS": 1, "interfaces-0-name": "eth0"})
    logged_in(client, operator).post(reverse("inventory:host_add"), data)
    host = Host.objects.get(hostname="titan")
    entries = list(LogEntry.objects.get_for_object(host)) + list(LogEntry.objects.get_for_objects(host.interfaces.all()))
    assert len(entries) >= 2
    assert {entry.actor for entry in entries} == {operator}


def test_host_edited_in_the_console_is_attributed_to_the_user(client, operator, host):
    logged_in(client, operator).post(reverse("inventory:host_edit", args=[host.pk]), edit_data(host, owner="dba"))
    latest = LogEntry.objects.get_for_object(host).order_by("-timestamp", "-pk").first()
    assert latest.actor == operator
    assert latest.changes_dict["owner"] == ["", "dba"]


def test_host_changelog_shows_who_and_before_after(client, operator, viewer, host):
    logged_in(client, operator).post(reverse("inventory:host_edit", args=[host.pk]), edit_data(host, owner="dba"))
    html = logged_in(client, viewer).get(reverse("inventory:host_detail", args=[host.pk])).content.decode()
    history = html[html.index('id="host-changelog"'):]
    assert "otto-operator" in history
    assert re.search(r'Owner</span>\s*<del class="change-before">∅</del>.*?<ins class="change-after">dba</ins>', history, re.S)


def count_detail_queries(client, host):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("inventory:host_detail", args=[host.pk])).status_code == 200
    return len(queries)


def test_host_detail_query_count_does_not_grow_with_neighbours_journal_or_history(client, operator, host, rack):
    client = logged_in(client, operator)
    Interface.objects.create(host=host, name="eth0")
    JournalEntry.objects.create(host=host, text="first", author=operator)
    Host.objects.create(hostname="io", site=host.site, rack=rack, position=1)
    few = count_detail_queries(client, host)
    for unit in range(2, 9):
        Host.objects.create(hostname=f"moon{unit}", site=host.site, rack=rack, position=unit)
        JournalEntry.objects.create(host=host, text=f"entry {unit}", author=operator)
        Interface.objects.create(host=host, name=f"eth{unit}")
    assert count_detail_queries(client, host) == few
