"""Forgetting a stale VM: only a record the sync found gone from libvirt, on purpose
(the name typed), by an operator, recorded in the change log; console and API."""

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from core.jobs import create_job
from hypervisors.models import VirtualMachine
from tests.conftest import token_client
from tests.hypervisors.test_console import estate, logged_in, make_vm  # noqa: F401


def forget_url(vm):
    return reverse("hypervisors:vm_forget", args=[vm.pk])


def api_forget(client, vm, confirm):
    return client.post(f"/api/hypervisors/vms/{vm.pk}/forget/", {"confirm": confirm}, format="json")


def deletion_entry(vm_pk):
    return LogEntry.objects.filter(object_pk=str(vm_pk), action=LogEntry.Action.DELETE).first()


# --- console ---------------------------------------------------------------------------


def test_an_operator_forgets_a_gone_vm_after_typing_its_name(client, operator, estate):
    ghost = make_vm(estate["rhine"], "ghost", state="gone")
    logged_in(client, operator)
    detail = client.get(reverse("hypervisors:vm_detail", args=[ghost.pk])).content.decode()
    assert 'id="forget-vm"' in detail
    page = client.get(forget_url(ghost)).content.decode()
    assert "no longer has this VM" in page and 'id="confirm-forget"' in page

    wrong = client.post(forget_url(ghost), {"confirm_name": "ghos"})
    assert wrong.status_code == 200 and "confirm with the VM&#x27;s name (ghost)" in wrong.content.decode()
    assert VirtualMachine.objects.filter(pk=ghost.pk).exists()

    done = client.post(forget_url(ghost), {"confirm_name": "ghost"}, follow=True)
    assert done.redirect_chain[-1][0] == reverse("hypervisors:vm_list")
    assert "The record of ghost is forgotten" in done.content.decode()
    assert not VirtualMachine.objects.filter(pk=ghost.pk).exists()
    assert deletion_entry(ghost.pk).actor == operator


@pytest.mark.parametrize("state, reason", [
    ("running", "ghost is running in libvirt, not stale: it cannot be forgotten"),
    ("shutoff", "ghost is shut off in libvirt, not stale"),
    ("unknown", "its hypervisor did not answer, so it may still exist"),
])
def test_a_vm_libvirt_has_or_may_have_is_never_forgotten(client, operator, estate, state, reason):
    vm = make_vm(estate["rhine"], "ghost", state=state)
    logged_in(client, operator)
    assert 'id="forget-vm"' not in client.get(reverse("hypervisors:vm_detail", args=[vm.pk])).content.decode()
    page = client.get(forget_url(vm)).content.decode()
    assert reason in page and 'id="confirm-forget"' not in page
    refused = client.post(forget_url(vm), {"confirm_name": "ghost"})
    assert refused.status_code == 200 and reason in refused.content.decode()
    assert VirtualMachine.objects.filter(pk=vm.pk).exists()


def test_a_viewer_cannot_forget(client, viewer, estate):
    ghost = make_vm(estate["rhine"], "ghost", state="gone")
    logged_in(client, viewer)
    assert client.post(forget_url(ghost), {"confirm_name": "ghost"}).status_code == 403
    assert VirtualMachine.objects.filter(pk=ghost.pk).exists()


def test_a_vm_held_by_a_job_is_not_forgotten(client, operator, estate):
    ghost = make_vm(estate["rhine"], "ghost", state="gone")
    job = create_job("hypervisors.delete_vm", "Delete ghost", target=ghost)
    VirtualMachine.objects.filter(pk=ghost.pk).update(busy_job=job)
    response = logged_in(client, operator).post(forget_url(ghost), {"confirm_name": "ghost"})
    assert f"job #{job.pk}" in response.content.decode()
    assert VirtualMachine.objects.filter(pk=ghost.pk).exists()


# --- API -------------------------------------------------------------------------------


def test_the_api_forgets_a_gone_vm_and_names_the_user(operator, estate):
    ghost = make_vm(estate["rhine"], "ghost", state="gone")
    response = api_forget(token_client(operator), ghost, "ghost")
    assert response.status_code == 200 and response.json() == {"forgotten": "ghost", "id": ghost.pk}
    assert not VirtualMachine.objects.filter(pk=ghost.pk).exists()
    assert deletion_entry(ghost.pk).actor == operator


@pytest.mark.parametrize("state, confirm, field, text", [
    ("running", "luna", "non_field_errors", "luna is running in libvirt, not stale"),
    ("unknown", "luna", "non_field_errors", "may still exist"),
    ("gone", "nope", "confirm", "confirm with the VM's name (luna)"),
])
def test_the_api_refuses_with_400(operator, estate, state, confirm, field, text):
    vm = make_vm(estate["rhine"], "luna", state=state)
    response = api_forget(token_client(operator), vm, confirm)
    assert response.status_code == 400 and text in response.json()[field][0]
    assert VirtualMachine.objects.filter(pk=vm.pk).exists()


def test_the_api_validates_the_body_and_the_role(operator, viewer, estate):
    ghost = make_vm(estate["rhine"], "ghost", state="gone")
    missing = token_client(operator).post(f"/api/hypervisors/vms/{ghost.pk}/forget/", {}, format="json")
    assert missing.status_code == 400 and "confirm" in missing.json()
    assert api_forget(token_client(viewer), ghost, "ghost").status_code == 403
    assert VirtualMachine.objects.filter(pk=ghost.pk).exists()
