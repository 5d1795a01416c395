"""The replacement API: viewers read, operators propose and confirm; a step without
"confirm": true is a 400, a viewer's confirmation a 403; lists run a fixed number of queries."""

import pytest
from django.urls import reverse

from core.models import Job
from hypervisors.models import Hypervisor
from inventory.models import Host, Replacement
from inventory.services import recovery
from inventory.tasks import replacement_step_job

from .spares import make_host

pytestmark = pytest.mark.django_db


def test_operator_proposes_and_anyone_with_a_role_reads(failed, spare, operator_api, viewer_api, operator):
    answer = operator_api.post(reverse("replacement-list"), {"failed_host": failed.pk})
    assert answer.status_code == 201, answer.data
    body = answer.data
    assert (body["failed_hostname"], body["spare_hostname"], body["new_hostname"], body["state"]) == (
        "marvin", "spare-01", "zaphod", "proposed")
    assert body["requested_by"] == operator.username and not body["automatic"]
    assert [(s["number"], s["state"]) for s in body["steps"]] == [(1, "done"), (2, "pending"), (3, "pending")]
    assert body["candidates"][0]["chosen"] is True

    again = operator_api.post(reverse("replacement-list"), {"failed_host": failed.pk})
    assert again.data["id"] == body["id"]  # the open one, not a second
    detail = viewer_api.get(reverse("replacement-detail", args=[body["id"]]))
    assert detail.status_code == 200 and detail.data["id"] == body["id"]
    assert viewer_api.get(reverse("replacement-list"), {"open": "true"}).data["count"] == 1
    assert viewer_api.get(reverse("replacement-list"), {"open": "false"}).data["count"] == 0


def test_a_viewer_may_not_propose_or_confirm(failed, spare, viewer_api):
    assert viewer_api.post(reverse("replacement-list"), {"failed_host": failed.pk}).status_code == 403
    replacement = recovery.propose_replacement(failed, {})
    answer = viewer_api.post(reverse("replacement-confirm", args=[replacement.pk]), {"step": 2, "confirm": True})
    assert answer.status_code == 403
    assert replacement.steps.get(number=2).state == "pending"


@pytest.mark.parametrize(("body", "field"), [
    ({"step": 2}, "confirm"),
    ({"step": 2, "confirm": False}, "confirm"),
    ({"confirm": True}, "step"),
    ({"step": "two", "confirm": True}, "step"),
    ({"step": 1, "confirm": True}, "step"),  # already done
    ({"step": 3, "confirm": True}, "step"),  # not the next one
    ({"step": 2, "confirm": True, "hostname": "bad name!"}, "hostname"),
    ({"step": 2, "confirm": True, "hostname": "marvin"}, "hostname"),  # the failed host keeps it
    ({"step": 2, "confirm": True, "hostname": "x\x00"}, "hostname"),
    ({"step": 2, "confirm": True, "spare": 999999}, "spare"),
])
def test_confirmation_is_required_and_bad_input_is_a_400(failed, spare, operator_api, body, field):
    replacement = recovery.propose_replacement(failed, {})
    answer = operator_api.post(reverse("replacement-confirm", args=[replacement.pk]), body)
    assert answer.status_code == 400, answer.data
    assert field in answer.data
    assert replacement.steps.get(number=2).state == "pending" and not Job.objects.exists()


def test_a_spare_that_does_not_fit_is_refused(failed, spare, site, operator_api):
    small = make_host("spare-02", site, cores=2, memory_gib=4)
    replacement = recovery.propose_replacement(failed, {})
    answer = operator_api.post(reverse("replacement-confirm", args=[replacement.pk]),
                               {"step": 2, "confirm": True, "spare": small.pk})
    assert answer.status_code == 400
    assert "spare-02 cannot take over: 2 CPU cores < 8" in answer.data["spare"][0]


def test_confirm_answers_202_with_the_job_which_does_the_take_over(
        failed, spare, operator_api, operator, django_capture_on_commit_callbacks):
    replacement = recovery.propose_replacement(failed, {})
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        answer = operator_api.post(reverse("replacement-confirm", args=[replacement.pk]),
                                   {"step": 2, "confirm": True, "hostname": "trillian"})
    assert answer.status_code == 202, answer.data
    assert len(callbacks) == 1  # the task is sent once the transaction commits
    job = Job.objects.get(pk=answer.data["job"])
    assert job.kind == "inventory.replacement_step" and job.created_by == operator

    replacement_step_job.run(job.pk)

    spare.refresh_from_db()
    assert (spare.hostname, spare.status, spare.role.slug) == ("trillian", "active", "mail")
    body = operator_api.get(reverse("replacement-detail", args=[replacement.pk])).data
    assert body["state"] == "done" and body["steps"][1]["confirmed_by"] == operator.username
    assert body["runbook"].startswith("Runbook: restore marvin's service on trillian")


def test_a_hypervisor_is_refused_with_a_400(site, operator_api):
    hv = make_host("hv1", site, status="failed")
    Hypervisor.objects.create(host=hv, uri="test+tcp://127.0.0.1:1/default")
    answer = operator_api.post(reverse("replacement-list"), {"failed_host": hv.pk})
    assert answer.status_code == 400 and "hypervisor" in answer.data["failed_host"][0]


def test_replan_and_cancel(failed, operator_api, site):
    replacement = recovery.propose_replacement(failed, {})
    assert replacement.spare is None
    make_host("spare-09", site, cores=16, memory_gib=128, disks=(4000,))
    answer = operator_api.post(reverse("replacement-replan", args=[replacement.pk]))
    assert answer.status_code == 200 and answer.data["spare_hostname"] == "spare-09"
    assert operator_api.post(reverse("replacement-cancel", args=[replacement.pk])).data["state"] == "cancelled"
    again = operator_api.post(reverse("replacement-cancel", args=[replacement.pk]))
    assert again.status_code == 400 and "replacement" in again.data


def test_the_list_runs_a_fixed_number_of_queries(site, mail_role, viewer_api, django_assert_max_num_queries):
    def propose(count, start):
        for n in range(start, start + count):
            host = make_host(f"dead{n}", site, status="failed", role=mail_role)
            make_host(f"spare{n}", site, cores=16, memory_gib=128, disks=(4000,))
            recovery.propose_replacement(host, {})

    propose(2, 0)
    with django_assert_max_num_queries(8) as few:
        viewer_api.get(reverse("replacement-list"))
    propose(6, 2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        answer = viewer_api.get(reverse("replacement-list"))
    assert answer.data["count"] == 8 == Replacement.objects.count()
    assert Host.objects.filter(status="spare").count() == 8  # nothing taken by proposing
