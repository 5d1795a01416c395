"""Replacement pages of the console: the host page's card, the list of open recoveries,
the detail page with its confirmation form (errors shown, viewers refused)."""

import pytest
from django.urls import reverse

from core.models import Job
from hypervisors.models import Hypervisor
from inventory.models import Replacement
from inventory.services import recovery

from .spares import make_host

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


def test_host_page_offers_a_replacement_and_the_card_follows_it(failed, spare, operator_client):
    page = operator_client.get(failed.get_absolute_url()).content.decode()
    card_url = reverse("inventory:host_replacement_card", args=[failed.pk])
    assert card_url in page
    assert 'id="propose-replacement"' in operator_client.get(card_url).content.decode()

    answer = operator_client.post(reverse("inventory:host_replace", args=[failed.pk]))

    replacement = Replacement.objects.get()
    assert answer.status_code == 302 and answer.url == replacement.get_absolute_url()
    card = operator_client.get(card_url).content.decode()
    assert 'id="open-replacement"' in card and "zaphod" in card
    spare_card = operator_client.get(reverse("inventory:host_replacement_card", args=[spare.pk])).content.decode()
    assert "propose-replacement" not in spare_card


def test_a_hypervisor_gets_no_replacement_button(site, operator_client):
    hv = make_host("hv1", site, status="failed")
    Hypervisor.objects.create(host=hv, uri="test+tcp://127.0.0.1:1/default")
    card = operator_client.get(reverse("inventory:host_replacement_card", args=[hv.pk])).content.decode()
    assert "propose-replacement" not in card
    answer = operator_client.post(reverse("inventory:host_replace", args=[hv.pk]), follow=True)
    assert "is a hypervisor" in answer.content.decode() and not Replacement.objects.exists()


def test_detail_shows_candidates_with_reasons_and_the_confirmation_form(failed, spare, site, operator_client):
    make_host("spare-02", site, cores=2, memory_gib=4)
    replacement = recovery.propose_replacement(failed, {"failed_rounds": 3})
    page = operator_client.get(replacement.get_absolute_url()).content.decode()
    assert 'data-host="spare-01" data-fits="yes"' in page
    assert 'data-host="spare-02" data-fits="no"' in page and "2 CPU cores &lt; 8" in page
    assert 'id="confirm-step-form"' in page and 'value="zaphod"' in page


def test_confirming_without_the_box_ticked_is_a_form_error(failed, spare, operator_client):
    replacement = recovery.propose_replacement(failed, {})
    url = reverse("inventory:replacement_confirm", args=[replacement.pk, 2])
    answer = operator_client.post(url, {"spare": spare.pk, "hostname": "zaphod"})
    assert answer.status_code == 400
    assert "Tick the box to confirm" in answer.content.decode()
    answer = operator_client.post(url, {"confirm": "on", "spare": spare.pk, "hostname": "marvin"})
    assert answer.status_code == 400 and "already the name of a host" in answer.content.decode()
    assert not Job.objects.exists()


def test_confirming_starts_the_job(failed, spare, operator_client, django_capture_on_commit_callbacks):
    replacement = recovery.propose_replacement(failed, {})
    with django_capture_on_commit_callbacks(execute=False):
        answer = operator_client.post(reverse("inventory:replacement_confirm", args=[replacement.pk, 2]),
                                      {"confirm": "on", "spare": spare.pk, "hostname": "zaphod"})
    assert answer.status_code == 302
    step = replacement.steps.get(number=2)
    assert step.state == "running" and step.job.kind == "inventory.replacement_step"


def test_a_viewer_sees_the_plan_but_may_not_confirm(failed, spare, viewer_client):
    replacement = recovery.propose_replacement(failed, {})
    page = viewer_client.get(replacement.get_absolute_url()).content.decode()
    assert "confirm-step-form" not in page and "needs the operator role" in page
    answer = viewer_client.post(reverse("inventory:replacement_confirm", args=[replacement.pk, 2]),
                                {"confirm": "on"})
    assert answer.status_code == 403
    assert viewer_client.post(reverse("inventory:host_replace", args=[failed.pk])).status_code == 403


def test_list_of_open_recoveries_runs_a_fixed_number_of_queries(site, mail_role, viewer_client,
                                                                 django_assert_max_num_queries):
    def propose(count, start):
        for n in range(start, start + count):
            host = make_host(f"dead{n}", site, status="failed", role=mail_role)
            make_host(f"spare{n}", site, cores=16, memory_gib=128, disks=(4000,))
            recovery.propose_replacement(host, {})

    url = reverse("inventory:replacement_list")
    assert 'id="no-open-replacements"' in viewer_client.get(url).content.decode()
    propose(2, 0)
    with django_assert_max_num_queries(12) as few:
        viewer_client.get(url)
    propose(5, 2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = viewer_client.get(url).content.decode()
    assert page.count('data-replacement="') == 7
