"""The inventory's main flows in a real browser with a real Celery worker: an operator adds
a host (a bad value is shown on its field and nothing is lost), then imports hosts from a
CSV file (a bad row blocks the whole file with its error; the fixed file goes through as a
Job on the worker)."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from inventory.models import Host
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

HEADER = "hostname,site,status,role,cpu_cores,memory_mib,tags\n"


def test_operator_adds_a_host_after_fixing_a_field_error(page, operator, site, app_role):
    log_in(page, operator.username)
    page.goto(reverse("inventory:host_list"))
    page.click("#add-host")
    page.fill("#id_hostname", "Not a hostname!")
    page.select_option("#id_site", label=site.name)
    page.select_option("#id_role", label=app_role.name)
    page.fill("#id_memory_mib", "65536")
    page.click("#save")

    error = page.locator("#id_hostname ~ .invalid-feedback, #hostname-input .invalid-feedback").first
    expect(error).to_be_visible()
    expect(page.locator("#form-error-summary")).to_be_visible()
    assert not Host.objects.exists()
    # What was typed is still there: only the bad field needs fixing.
    expect(page.locator("#id_memory_mib")).to_have_value("65536")

    page.fill("#id_hostname", "europa")
    page.click("#save")
    expect(page.locator("#host-name")).to_have_text("europa")

    page.goto(reverse("inventory:host_list"))
    expect(page.locator('#host-table tr[data-hostname="europa"]')).to_be_visible()
    assert Host.objects.get(hostname="europa").memory_mib == 65536


def test_operator_imports_hosts_from_csv_and_the_job_runs_on_the_worker(
    page, operator, site, app_role, celery_worker_process, tmp_path
):
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + f"io,{site.slug},active,{app_role.slug},8,16384,prod\n"
                   f"ganymede,{site.slug},exploded,{app_role.slug},8,16384,\n")
    good = tmp_path / "good.csv"
    good.write_text(HEADER + f"io,{site.slug},active,{app_role.slug},8,16384,prod\n"
                    f"ganymede,{site.slug},spare,{app_role.slug},16,32768,\n")

    log_in(page, operator.username)
    page.goto(reverse("inventory:host_import"))
    page.set_input_files("#id_csv_file", str(bad))
    page.click("#import-upload button[type=submit]")
    expect(page.locator("#import-errors")).to_be_visible()
    expect(page.locator('#import-rows tr[data-action="error"]')).to_have_count(1)
    expect(page.locator("#import-ready")).to_have_count(0)

    page.set_input_files("#id_csv_file", str(good))
    page.click("#import-upload button[type=submit]")
    expect(page.locator("#import-ready")).to_be_visible()
    expect(page.locator('#import-rows tr[data-action="create"]')).to_have_count(2)
    assert not Host.objects.exists()  # a preview writes nothing

    page.click("#import-commit button[name=commit]")
    expect(page.locator("#job-status")).to_have_attribute("data-state", "succeeded", timeout=60_000)

    page.goto(reverse("inventory:host_list"))
    expect(page.locator("#host-table tr[data-hostname]")).to_have_count(2)
    assert dict(Host.objects.values_list("hostname", "status")) == {"io": "active", "ganymede": "spare"}
