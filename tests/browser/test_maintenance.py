"""Maintenance mode in a real browser, on the real lab, with a real Celery worker: an
operator empties a hypervisor and watches one progress bar per VM move until it is empty."""

import time

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.hypervisors.conftest import start_guest, where_is

pytestmark = [pytest.mark.browser, pytest.mark.lab, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

GUESTS = ("odin", "hera", "thor")
EVACUATION_TIMEOUT_S = 300

# What the page shows right now: the evacuation's state and progress, and each VM's bar.
SNAPSHOT_JS = """() => {
  const evacuation = document.querySelector('#evacuation');
  return {
    state: evacuation ? evacuation.dataset.state : null,
    progress: evacuation ? Number(evacuation.dataset.progress) : null,
    vms: [...document.querySelectorAll('#evacuation-vms .migration-item')].map(
      item => [item.dataset.job, item.dataset.state, Number(item.dataset.progress)]),
    marker: window.pageMarker || null,
  };
}"""


def watch_evacuation(page):
    """Sample the page until the evacuation finishes; return every snapshot seen."""
    snapshots = []
    deadline = time.monotonic() + EVACUATION_TIMEOUT_S
    while time.monotonic() < deadline:
        snapshot = page.evaluate(SNAPSHOT_JS)
        snapshots.append(snapshot)
        if snapshot["state"] in ("succeeded", "failed", "cancelled"):
            break
        page.wait_for_timeout(250)
    return snapshots


def test_maintenance_empties_a_hypervisor_while_the_page_shows_each_vm_moving(
    page, lab_hypervisors, celery_worker_process, operator
):
    rhine = lab_hypervisors["rhine"]
    guests = {name: start_guest(rhine, name) for name in GUESTS}

    log_in(page, operator.username)
    # The console learns about the guests the way an operator would: Sync now, a job on the worker.
    page.goto(reverse("hypervisors:hypervisor_list"))
    page.click("#sync-now")
    expect(page.locator("#job-status")).to_have_attribute("data-state", "succeeded", timeout=60_000)
    page.goto(reverse("hypervisors:hypervisor_detail", args=[rhine.pk]))
    expect(page.locator("#hv-vms tr[data-vm]")).to_have_count(len(GUESTS))

    page.click("#plan-maintenance")
    expect(page.locator("#moves tr[data-vm]")).to_have_count(len(GUESTS))
    expect(page.locator("#unplaced")).to_have_count(0)
    page.fill("#id_parallel", "1")  # one at a time: the others wait their turn, visibly
    page.click("#start-evacuation")
    page.wait_for_url(f"**{reverse('hypervisors:hypervisor_detail', args=[rhine.pk])}#maintenance")
    page.evaluate("() => { window.pageMarker = 'no reload since the start'; }")

    snapshots = watch_evacuation(page)

    final = snapshots[-1]
    assert final["state"] == "succeeded", final
    # The page was never reloaded: HTMX polling moved the bars.
    assert final["marker"] == "no reload since the start"
    # One bar per VM, each seen unfinished and then finished, and the overall bar in between.
    assert len(final["vms"]) == len(GUESTS) and all(state == "succeeded" for _, state, _ in final["vms"])
    seen_unfinished = {job for snap in snapshots for job, state, _ in snap["vms"] if state in ("pending", "running")}
    assert seen_unfinished, "no migration was ever shown in progress"
    assert any(0 < snap["progress"] < 100 for snap in snapshots if snap["progress"] is not None)

    # The page says the host is empty and in maintenance, without a reload.
    expect(page.locator("#hv-vms tr[data-vm]")).to_have_count(0)
    expect(page.locator("#hv-status")).to_contain_text("Maintenance")
    expect(page.locator("#evacuation-done")).to_be_visible()
    expect(page.locator("#leave-maintenance")).to_be_visible()

    # libvirt itself: each guest runs exactly once, and not on rhine.
    for name, guest in guests.items():
        running, defined = where_is(lab_hypervisors, guest)
        assert len(running) == 1 and running == defined and running != ["rhine"], (name, running, defined)
