"""Replacing a failed physical host by a spare, in a real browser with a real Celery worker:
an operator proposes it from the host page, confirms each step (the page follows the jobs),
and ends with the spare carrying the role, the old host failed and the runbook in the journal."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from inventory.models import Host, NamingScheme, Replacement, Role
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def host(name, site, rack, status, role=None, cores=12, memory_mib=65536, disk_gb=480, position=None):
    return Host.objects.create(hostname=name, site=site, rack=rack, position=position, status=status, role=role,
                               cpu_cores=cores, memory_mib=memory_mib,
                               disks=[{"name": "sda", "size_gb": disk_gb, "kind": "ssd"}])


def test_operator_moves_a_broken_directory_server_to_a_spare(page, operator, site, rack, celery_worker_process):
    oracles = NamingScheme.objects.create(name="Oracles", names=["delphi", "dodona", "siwa"])
    directory = Role.objects.create(name="Directory server", slug="directory", naming_scheme=oracles)
    delphi = host("delphi", site, rack, "active", role=directory, position=16)
    host("spare-small", site, rack, "spare", cores=4, memory_mib=8192, position=29)
    spare = host("spare-01", site, rack, "spare", cores=20, memory_mib=196608, disk_gb=960, position=30)

    log_in(page, operator.username)
    page.goto(reverse("inventory:host_detail", args=[delphi.pk]))
    page.click("#propose-replacement")  # the card arrives over HTMX after the page

    # The plan: the spare that fits is chosen, the small one is rejected with its reason.
    expect(page.locator("#replacement-summary")).to_contain_text("spare-01 takes over as dodona")
    expect(page.locator('.candidate[data-host="spare-small"] .candidate-reasons')).to_contain_text("4 CPU cores < 12")
    assert Host.objects.get(pk=spare.pk).status == "spare"  # proposing changed nothing

    # Step 1: mark delphi failed. Without the box ticked the browser refuses to send the form.
    page.click("#confirm-step")
    expect(page.locator("#id_confirm:invalid")).to_have_count(1)
    expect(page.locator('.replacement-step[data-step="1"]')).to_have_attribute("data-state", "pending")
    page.check("#id_confirm")
    page.click("#confirm-step")
    expect(page.locator('.replacement-step[data-step="1"]')).to_have_attribute("data-state", "done", timeout=60_000)
    expect(page.locator('.replacement-step[data-step="1"] .step-confirmed')).to_contain_text(operator.username)

    # Step 2: spare-01 takes over as dodona (the proposed spare and name, kept as they are).
    expect(page.locator("#id_hostname")).to_have_value("dodona")
    page.check("#id_confirm")
    page.click("#confirm-step")
    expect(page.locator("#replacement-state")).to_have_attribute("data-state", "done", timeout=60_000)
    expect(page.locator("#replacement-runbook")).to_contain_text("USN rollback")

    spare.refresh_from_db(), delphi.refresh_from_db()
    assert (spare.hostname, spare.role, spare.status) == ("dodona", directory, "active")
    assert delphi.status == "failed"
    assert Replacement.objects.get().state == "done"

    # The new host's page: it carries the role, and its journal holds the runbook.
    page.goto(reverse("inventory:host_detail", args=[spare.pk]))
    expect(page.locator("#host-name")).to_have_text("dodona")
    expect(page.locator("#host-specs")).to_contain_text("Directory server")
    runbook = page.locator('#journal .journal-entry[data-kind="repair"]')
    expect(runbook).to_contain_text("Runbook: restore delphi's service on dodona (was spare-01)")
    expect(runbook).to_contain_text(f"confirmed by {operator.username}")
    page.goto(reverse("inventory:host_detail", args=[delphi.pk]))
    expect(page.locator("#host-status")).to_contain_text("Failed")
    expect(page.locator("#journal")).to_contain_text("Replaced by dodona (was spare-01)")
