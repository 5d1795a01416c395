"""The generic console pages (core.generic): who may open them, field errors, deleting
what is still in use, what a delete takes with it, the change log, URL names."""

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from cloud.models import CloudAccount, OnPremCostModel
from health.models import CheckSchedule
from inventory.models import Host, Interface, NamingScheme, Rack, Site, Tag
from migrations_tool.models import MigrationPlan, Run

IDENTITIES = ["anonymous", "nobody", "viewer", "operator", "admin"]
ALLOWED_FROM = {"viewer": 2, "operator": 3, "admin": 4}  # index in IDENTITIES


@pytest.fixture
def clients(db):
    made = {"anonymous": Client()}
    for name in IDENTITIES[1:]:
        user = User.objects.create_user(username=f"generic-{name}")
        if name != "nobody":
            user.groups.add(Group.objects.get_or_create(name=name)[0])
        made[name] = Client()
        made[name].force_login(user)
    return made


@pytest.fixture
def objects(host):
    account = CloudAccount.objects.create(name="Spare account", region="eu-west-1")
    return {
        "site": host.site, "rack": host.rack, "host": host, "account": account,
        "scheme": NamingScheme.objects.create(name="Solar", names=["luna"]),
        "tag": Tag.objects.create(name="pci", slug="pci"),
        "cost": OnPremCostModel.objects.create(name="Server", kind="host"),
        "schedule": CheckSchedule.objects.create(check_type="ssh", role=host.role, interval_seconds=60),
        "plan": MigrationPlan.objects.create(name="Wave 1"),
    }


# (URL name, object key or None, the least role that may open it): written out, not read
# from the models, so a changed declaration fails here.
PAGES = [
    ("inventory:site_list", None, "viewer"),
    ("inventory:site_add", None, "admin"),
    ("inventory:site_edit", "site", "admin"),
    ("inventory:site_delete", "site", "admin"),
    ("inventory:rack_edit", "rack", "admin"),
    ("inventory:namingscheme_edit", "scheme", "admin"),
    ("inventory:tag_delete", "tag", "admin"),
    ("inventory:host_list", None, "viewer"),
    ("inventory:host_add", None, "operator"),
    ("inventory:host_edit", "host", "operator"),
    ("inventory:host_delete", "host", "admin"),
    ("cloud:cloudaccount_list", None, "viewer"),
    ("cloud:cloudaccount_add", None, "admin"),
    ("cloud:cloudaccount_delete", "account", "admin"),
    ("cloud:onpremcostmodel_edit", "cost", "admin"),
    ("cloud:sizingpolicy_edit", None, "admin"),
    ("health:checkschedule_edit", "schedule", "admin"),
    ("migrations_tool:migrationplan_delete", "plan", "operator"),
]


@pytest.mark.parametrize("url_name, key, least", PAGES)
def test_each_identity_gets_what_its_role_allows(clients, objects, url_name, key, least):
    url = reverse(url_name, args=[objects[key].pk] if key else [])
    for index, identity in enumerate(IDENTITIES):
        response = clients[identity].get(url)
        if identity == "anonymous":
            assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url
        elif index < ALLOWED_FROM[least]:
            assert response.status_code == 403, (url, identity)
            assert "role" in response.content.decode(), (url, identity)  # says why, as a sentence
        else:
            assert response.status_code == 200, (url, identity)


@pytest.mark.parametrize("url_name, key", [("inventory:site_delete", "site"), ("cloud:cloudaccount_delete", "account"),
                                           ("inventory:tag_edit", "tag")])
def test_a_refused_post_changes_nothing(clients, objects, url_name, key):
    obj = objects[key]
    data = {"name": "renamed", "slug": "renamed", "color": "#000000"}
    assert clients["operator"].post(reverse(url_name, args=[obj.pk]), data).status_code == 403
    obj.refresh_from_db()
    assert obj.name != "renamed"


def test_deleting_a_cloud_account_in_use_is_refused_with_a_sentence(clients, objects):
    account = objects["account"]
    MigrationPlan.objects.filter(pk=objects["plan"].pk).update(account=account)
    url = reverse("cloud:cloudaccount_delete", args=[account.pk])
    page = clients["admin"].get(url)
    html = page.content.decode()
    assert page.status_code == 200 and 'id="in-use"' in html and "migration plan Wave 1" in html
    assert 'id="confirm-delete"' not in html  # nothing to press
    response = clients["admin"].post(url)
    assert response.status_code == 302 and response["Location"] == url
    followed = clients["admin"].get(url).content.decode()
    assert "Cloud account Spare account is still in use and was not deleted: migration plan Wave 1." in followed
    assert CloudAccount.objects.filter(pk=account.pk).exists()


def test_deleting_an_unused_object_goes_back_to_its_list(clients, objects):
    tag, rack = objects["tag"], Rack.objects.create(site=objects["site"], name="R09")
    response = clients["admin"].post(reverse("inventory:tag_delete", args=[tag.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("inventory:role_list")
    response = clients["admin"].post(reverse("inventory:rack_delete", args=[rack.pk]))
    assert response.status_code == 302 and response["Location"] == objects["site"].get_absolute_url()
    assert not Tag.objects.filter(pk=tag.pk).exists() and not Rack.objects.filter(pk=rack.pk).exists()


def test_the_delete_page_says_what_goes_with_the_object(clients, objects):
    host = objects["host"]
    Interface.objects.create(host=host, name="eth0")
    Interface.objects.create(host=host, name="eth1")
    html = clients["admin"].get(reverse("inventory:host_delete", args=[host.pk])).content.decode()
    assert 'id="cascaded"' in html and "2 interfaces" in html
    clients["admin"].post(reverse("inventory:host_delete", args=[host.pk]))
    assert not Host.objects.filter(pk=host.pk).exists() and not Interface.objects.exists()


def test_bad_input_comes_back_as_field_errors_with_400(clients, objects):
    response = clients["admin"].post(reverse("inventory:tag_add"), {"name": "dmz", "slug": "dmz", "color": "red"})
    assert response.status_code == 400
    assert "color" in response.context["form"].errors and "is-invalid" in response.content.decode()
    response = clients["admin"].post(reverse("inventory:site_edit", args=[objects["site"].pk]),
                                     {"name": "", "slug": "x"})
    assert response.status_code == 400 and "name" in response.context["form"].errors
    assert not Tag.objects.filter(name="dmz").exists()
    assert Site.objects.get(pk=objects["site"].pk).name == "Amsterdam DC1"


def test_a_saved_object_is_in_the_change_log_under_its_editor(clients, objects):
    site = objects["site"]
    response = clients["admin"].post(reverse("inventory:site_edit", args=[site.pk]),
                                     {"name": "Amsterdam DC2", "slug": site.slug})
    assert response.status_code == 302 and response["Location"] == site.get_absolute_url()
    entry = LogEntry.objects.get_for_object(site).order_by("-timestamp").first()
    assert entry.actor.username == "generic-admin" and entry.changes_dict["name"] == ["Amsterdam DC1", "Amsterdam DC2"]


def test_the_edit_page_offers_delete_only_to_who_may_delete(clients, objects):
    host = objects["host"]
    delete_url = reverse("inventory:host_delete", args=[host.pk])
    assert delete_url not in clients["operator"].get(reverse("inventory:host_edit", args=[host.pk])).content.decode()
    assert delete_url in clients["admin"].get(reverse("inventory:host_edit", args=[host.pk])).content.decode()
    site_edit = clients["admin"].get(reverse("inventory:site_edit", args=[objects["site"].pk])).content.decode()
    assert reverse("inventory:site_delete", args=[objects["site"].pk]) in site_edit


def test_a_plan_with_a_run_in_progress_is_not_deleted_in_the_console_nor_the_api(clients, objects, operator_api):
    plan = objects["plan"]
    run = Run.objects.create(plan=plan, state=Run.State.WAITING)
    url = reverse("migrations_tool:migrationplan_delete", args=[plan.pk])
    assert clients["operator"].post(url).status_code == 302
    assert "Plan Wave 1 has a run in progress: cancel it first." in clients["operator"].get(url).content.decode()
    answer = operator_api.delete(f"/api/migrations/plans/{plan.pk}/")
    assert answer.status_code == 409 and "cancel it first" in answer.json()["detail"]
    assert MigrationPlan.objects.filter(pk=plan.pk).exists()

    Run.objects.filter(pk=run.pk).update(state=Run.State.CANCELLED)
    response = clients["operator"].post(url)
    assert response.status_code == 302 and response["Location"] == reverse("migrations_tool:migrationplan_list")
    assert not MigrationPlan.objects.filter(pk=plan.pk).exists()


def test_operators_delete_plans_waves_and_dependencies_through_the_api(operator_api, viewer_api, db):
    plan = MigrationPlan.objects.create(name="Wave 2")
    wave = plan.waves.create(number=1)
    assert viewer_api.delete(f"/api/migrations/waves/{wave.pk}/").status_code == 403
    assert operator_api.delete(f"/api/migrations/waves/{wave.pk}/").status_code == 204
    assert viewer_api.delete(f"/api/migrations/plans/{plan.pk}/").status_code == 403
    assert operator_api.delete(f"/api/migrations/plans/{plan.pk}/").status_code == 204
    assert not MigrationPlan.objects.exists()


def test_a_list_says_when_it_is_empty_and_offers_the_first_one_to_who_may_add(clients, db):
    admin_page = clients["admin"].get(reverse("inventory:site_list")).content.decode()
    assert "No sites yet." in admin_page and reverse("inventory:site_add") in admin_page
    viewer_page = clients["viewer"].get(reverse("inventory:site_list")).content.decode()
    assert "No sites yet." in viewer_page and reverse("inventory:site_add") not in viewer_page


def test_page_names_follow_the_model_and_the_action(objects):
    site = objects["site"]
    assert reverse("inventory:site_edit", args=[site.pk]) == f"/inventory/sites/{site.pk}/edit/"
    assert reverse("inventory:site_delete", args=[site.pk]) == f"/inventory/sites/{site.pk}/delete/"
    assert reverse("inventory:namingscheme_add") == "/inventory/naming-schemes/add/"
    assert reverse("health:checkschedule_edit", args=[1]) == "/health/settings/schedules/1/edit/"
    assert reverse("cloud:cloudaccount_detail", args=[objects["account"].pk]) == objects["account"].get_absolute_url()
