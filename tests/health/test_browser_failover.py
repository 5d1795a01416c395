"""A dead hypervisor in a real browser, on the real lab, with a real Celery worker: the
console proposes recovery (auto-recovery is off at the site), refuses it until the
operator ticks the confirmation, then the operator confirms the box is off and watches
one bar per HA guest until both run on the spare (asked of libvirt itself)."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from health.models import FenceAttempt, SiteRecoveryPolicy
from health.services import sweep
from inventory.models import JournalEntry
from tests.browser.conftest import log_in
from tests.health.lab_guests import rounds_until_failed, running_on

pytestmark = [pytest.mark.browser, pytest.mark.lab, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_operator_confirms_a_dead_hypervisor_is_off_and_watches_its_ha_guests_restart(
        page, lab, trusted_estate, ha_guests, celery_worker_process, operator):
    rhine = trusted_estate["rhine"]
    SiteRecoveryPolicy.objects.filter(site=rhine.site).update(auto_recover=False)
    sweep.sweep(host_ids=[rhine.pk], checks=["ssh", "libvirt"])
    lab.power_off("rhine")
    try:
        assert rounds_until_failed(rhine)

        log_in(page, operator.username)
        page.goto(reverse("health:host", args=[rhine.pk]))
        expect(page.locator("#recovery-proposed")).to_be_visible()
        expect(page.locator("#what-if li")).to_have_count(2)  # where io and europa would restart

        page.fill("input[name=note]", "Checked in the room: PSU lights off")
        page.click("#confirm-powered-off")  # without ticking the confirmation
        expect(page.locator("#recovery-form-errors")).to_be_visible()
        assert not FenceAttempt.objects.exists()

        page.check("#recovery-confirm")
        page.click("#confirm-powered-off")
        page.wait_for_url(re.compile(r"/health/recoveries/\d+/$"))
        expect(page.locator("#recovery-vms .migration-item")).to_have_count(2, timeout=60_000)
        expect(page.locator("#recovery-progress")).to_have_attribute("data-state", "succeeded", timeout=180_000)
    finally:
        lab.power_on("rhine")

    for guest in ha_guests:
        assert running_on(lab, guest) == ["thames"]
    fence = FenceAttempt.objects.get()
    assert fence.agent == "manual" and fence.requested_by == operator
    assert JournalEntry.objects.filter(host=rhine, text__contains="PSU lights off").exists()
