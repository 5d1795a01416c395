"""The job page of a job with steps (child jobs) in a real browser: one bar per step,
moved by HTMX polling as the steps progress, without reloading the page."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from core.jobs import create_job
from core.models import Job
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_job_page_moves_each_steps_bar_live(page, viewer, operator):
    parent = create_job("hypervisors.evacuate", "Evacuate rhine", user=operator)
    Job.objects.filter(pk=parent.pk).update(state="running")
    steps = [create_job("hypervisors.live_migrate", f"Migrate {name} to danube", user=operator, parent=parent)
             for name in ("odin", "hera")]
    log_in(page, viewer.username)
    page.goto(reverse("job_detail", args=[parent.pk]))
    page.evaluate("window.pageMarker = 'not reloaded'")
    items = page.locator("#job-children .migration-item")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_have_attribute("data-progress", "0")

    Job.objects.filter(pk=steps[0].pk).update(state="running", progress=60, message="40 MiB left")
    expect(items.nth(0)).to_have_attribute("data-progress", "60")
    expect(items.nth(0)).to_contain_text("40 MiB left")
    expect(items.nth(1)).to_contain_text("Waiting for its turn")

    Job.objects.filter(parent=parent).update(state="succeeded", progress=100)
    Job.objects.filter(pk=parent.pk).update(state="succeeded", progress=100)
    expect(page.locator("#job-status")).to_have_attribute("data-state", "succeeded")
    expect(page.locator("#job-steps-heading")).to_contain_text("2 of 2 finished")
    assert page.evaluate("window.pageMarker") == "not reloaded"
