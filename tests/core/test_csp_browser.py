"""The Content-Security-Policy in a real browser: the pages, their moved scripts and the API
docs work, and the browser reports no violation of the policy anywhere."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from inventory.models import Host
from tests.browser.conftest import log_in
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Runs before any page script in every document the page opens (not subject to the policy).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") +
                              " at " + (e.sourceFile || location.pathname) + ":" + e.lineNumber);
});
"""


REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture
def watched(page):
    """The page, recording policy violations (events and the console's "Refused to ...")."""
    refused = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.violations = lambda: page.evaluate("() => window.__cspViolations") + refused
    return page


def test_console_pages_and_their_scripts_work_under_the_policy(watched, admin_user, host):
    page = watched
    log_in(page, admin_user.username)
    assert page.violations() == []

    page.goto(reverse("inventory:host_edit", args=[host.pk]))  # host-form.js: add an interface row
    rows = page.locator("#interface-rows > *")
    before = rows.count()
    page.click("#add-interface")
    expect(rows).to_have_count(before + 1)
    assert page.violations() == []

    page.goto(reverse("inventory:host_detail", args=[host.pk]))  # the health panel (HTMX) loads Chart.js
    page.wait_for_function("() => window.Chart && window.opsHealthCharts")
    assert page.violations() == []

    # data-confirm replaces the onclick confirm(): "Cancel" keeps the host, "OK" goes on.
    decommission = page.locator("#status-actions button[value=decommissioned]")
    page.once("dialog", lambda dialog: dialog.dismiss())
    decommission.click()
    page.wait_for_timeout(300)
    host.refresh_from_db()
    assert host.status == "active"
    page.once("dialog", lambda dialog: dialog.accept())
    decommission.click()
    page.wait_for_load_state()
    expect(page.locator("#status-actions")).to_contain_text("final state")
    assert Host.objects.get(pk=host.pk).status == "decommissioned"
    assert page.violations() == []

    for url in ["/", "/inventory/hosts/", "/health/", "/jobs/", "/changelog/"]:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        assert page.violations() == [], url


def test_the_admin_works_under_the_policy(watched, db):
    root = make_user("root", superuser=True)
    root.is_staff = True
    root.save()
    page = watched
    log_in(page, root.username)
    page.goto("/admin/auth/user/")
    expect(page.locator("#result_list")).to_be_visible()
    page.goto(f"/admin/auth/user/{root.pk}/change/")
    expect(page.locator("#user_form")).to_be_visible()
    assert page.violations() == []


def test_swagger_ui_and_redoc_work_under_the_policy(watched, viewer):
    page = watched
    log_in(page, viewer.username)
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=30_000)
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Ops console API")
    assert page.violations() == []

    page.goto("/api/redoc/")
    expect(page.locator("h1").first).to_contain_text("Ops console API", timeout=30_000)
    expect(page.locator("[role=search] input, input[placeholder='Search...']").first).to_be_visible()
    # ReDoc always asks redoc.ly for its "powered by" logo (and hides it when that fails): the
    # policy keeping the offline docs from calling out is the one violation wanted here.
    assert [v for v in page.violations() if REDOC_LOGO not in v] == []
