"""Console pages for sites, racks, roles, naming schemes and tags (admin-managed)."""

import re

import pytest
from django.urls import reverse

from inventory.models import Host, NamingScheme, Rack, Role, Site, Tag


def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def scheme(db):
    return NamingScheme.objects.create(name="Solar bodies", names=["mercury", "venus", "earth"])


@pytest.fixture
def read_pages(site, rack, app_role, scheme, host):
    return [
        reverse("inventory:site_list"),
        reverse("inventory:site_detail", args=[site.pk]),
        reverse("inventory:rack_detail", args=[rack.pk]),
        reverse("inventory:role_list"),
    ]


def test_pages_render_for_viewer_without_edit_links(client, viewer, read_pages, site):
    client = logged_in(client, viewer)
    for url in read_pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert reverse("inventory:site_add") not in html and "/edit/" not in html, url


def test_admin_sees_edit_links(client, admin_user, read_pages, site, rack):
    html = logged_in(client, admin_user).get(reverse("inventory:site_detail", args=[site.pk])).content.decode()
    assert reverse("inventory:site_edit", args=[site.pk]) in html
    assert f'{reverse("inventory:rack_add")}?site={site.pk}' in html


def test_site_detail_counts_hosts_and_rack_usage(client, viewer, site, rack, host):
    Host.objects.create(hostname="sol", site=site, rack=rack, position=20, u_height=4, status="spare")
    response = logged_in(client, viewer).get(reverse("inventory:site_detail", args=[site.pk]))
    (listed,) = response.context["racks"]
    assert listed.host_count == 2 and listed.used_units == 5
    assert "5/42U" in response.content.decode()


def test_rack_elevation_shows_occupied_units_and_free_unit_links(client, operator, rack, host):
    Host.objects.create(hostname="titan", site=rack.site, rack=rack, position=1, u_height=2)
    response = logged_in(client, operator).get(reverse("inventory:rack_detail", args=[rack.pk]))
    html = response.content.decode()
    assert re.search(r'data-units="U1–2".*?titan', html, re.S)
    assert re.search(r'data-units="U10".*?luna', html, re.S)
    assert f'{reverse("inventory:host_add")}?rack={rack.pk}&amp;position=3' in html
    slots = response.context["elevation"]
    assert sum(slot.height for slot in slots) == rack.u_height


def test_role_list_shows_free_names(client, viewer, scheme, site):
    Role.objects.create(name="App", slug="app-x", naming_scheme=scheme)
    Host.objects.create(hostname="venus", site=site)
    html = logged_in(client, viewer).get(reverse("inventory:role_list")).content.decode()
    row = re.search(r'<tr data-scheme="Solar bodies">.*?</tr>', html, re.S).group(0)
    assert re.search(r'class="text-end free-count">2<', row)
    assert "mercury, earth" in row


@pytest.mark.parametrize(
    "url_name, data",
    [
        ("inventory:site_add", {"name": "Frankfurt DC2", "slug": "", "description": "", "address": ""}),
        ("inventory:role_add", {"name": "Web server", "slug": "web", "description": ""}),
        ("inventory:namingscheme_add", {"name": "Myth", "description": "", "names": "zeus\n hera \n\napollo"}),
        ("inventory:tag_add", {"name": "pci", "slug": "", "color": "#6f42c1"}),
    ],
)
def test_admin_creates_objects_and_operator_may_not(client, operator, admin_user, url_name, data):
    url = reverse(url_name)
    client = logged_in(client, operator)
    assert client.get(url).status_code == 403
    assert client.post(url, data).status_code == 403
    client = logged_in(client, admin_user)
    assert client.get(url).status_code == 200
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()


def test_site_slug_is_made_from_the_name(client, admin_user):
    logged_in(client, admin_user).post(reverse("inventory:site_add"), {"name": "Frankfurt DC2", "slug": ""})
    assert Site.objects.get().slug == "frankfurt-dc2"


def test_naming_scheme_pool_is_one_name_per_line(client, admin_user, scheme):
    client = logged_in(client, admin_user)
    form = client.get(reverse("inventory:namingscheme_edit", args=[scheme.pk])).content.decode()
    assert "mercury\nvenus\nearth" in form
    data = {"name": scheme.name, "description": "", "names": "mercury\n  venus \n\nearth\nmars"}
    assert client.post(reverse("inventory:namingscheme_edit", args=[scheme.pk]), data).status_code == 302
    scheme.refresh_from_db()
    assert scheme.names == ["mercury", "venus", "earth", "mars"]


def test_naming_scheme_with_bad_names_shows_a_field_error(client, admin_user, scheme):
    data = {"name": scheme.name, "names": "mercury\nNot A Name\nmercury"}
    response = logged_in(client, admin_user).post(reverse("inventory:namingscheme_edit", args=[scheme.pk]), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'id="id_names"[^>]*class="[^"]*is-invalid', html) or re.search(
        r'class="[^"]*is-invalid[^"]*"[^>]*id="id_names"', html
    )
    assert "Not valid host names: Not A Name" in html


def test_strict_role_without_scheme_is_refused(client, admin_user):
    data = {"name": "Strict", "slug": "strict", "strict_naming": "on"}
    response = logged_in(client, admin_user).post(reverse("inventory:role_add"), data)
    assert "needs a naming scheme" in response.content.decode()
    assert not Role.objects.exists()


def test_duplicate_rack_name_at_a_site_is_an_error_not_a_500(client, admin_user, rack):
    data = {"site": rack.site_id, "name": rack.name, "u_height": 42}
    response = logged_in(client, admin_user).post(reverse("inventory:rack_add"), data)
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert Rack.objects.count() == 1


def test_admin_edits_rack(client, admin_user, rack):
    data = {"site": rack.site_id, "name": "R01-renamed", "u_height": 48, "description": "cold aisle"}
    response = logged_in(client, admin_user).post(reverse("inventory:rack_edit", args=[rack.pk]), data)
    assert response.status_code == 302
    rack.refresh_from_db()
    assert (rack.name, rack.u_height) == ("R01-renamed", 48)


def test_deleting_a_site_in_use_is_refused_with_a_message(client, admin_user, host, site):
    response = logged_in(client, admin_user).post(reverse("inventory:site_delete", args=[site.pk]), follow=True)
    assert "is still in use" in response.content.decode()
    assert Site.objects.filter(pk=site.pk).exists()


def test_admin_deletes_an_unused_tag(client, admin_user):
    tag = Tag.objects.create(name="old", slug="old")
    response = logged_in(client, admin_user).post(reverse("inventory:tag_delete", args=[tag.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("inventory:role_list")
    assert not Tag.objects.exists()
