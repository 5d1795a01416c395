"""The health console in a real browser: charts drawn from the recorded metrics, the
panel's range switch (HTMX), the failing-now page."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from health.models import CheckResult, CheckStatus, HostHealth
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def charted_host(host, viewer):
    now = timezone.now()
    for minutes in range(0, 360, 5):
        CheckResult.objects.create(
            host=host, check_type="metrics", ok=True, checked_at=now - timedelta(minutes=minutes),
            value={"load1": 1 + minutes % 7, "load5": 1.5, "load15": 1.2, "mem_used_pct": 40 + minutes % 20,
                   "disks": {"/": 61, "/var": 30 + minutes // 60}},
        )
    HostHealth.objects.create(host=host, state="failed", since=now, consecutive_failures=3, last_check_at=now)
    CheckStatus.objects.create(host=host, check_type="ssh", ok=False, alive=False, checked_at=now, since=now,
                               message="198.18.1.11:22: Connection refused")
    return host


def chart_points(page, metric):  # noqa: F811
    return page.evaluate(
        "metric => { const c = Chart.getChart(document.querySelector(`canvas[data-metric=${metric}]`));"
        " return c ? c.data.datasets.map(d => [d.label, d.data.length]) : null; }", metric)


def test_charts_are_drawn_and_the_range_switches(page, charted_host, viewer):  # noqa: F811
    log_in(page, viewer.username)
    page.goto(f"/health/hosts/{charted_host.pk}/")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.querySelector('canvas[data-metric=disk]'))")
    assert chart_points(page, "load") == [["1 min", 72], ["5 min", 72], ["15 min", 72]]
    assert chart_points(page, "memory") == [["Memory used %", 72]]
    assert sorted(chart_points(page, "disk")) == [["/", 72], ["/var", 72]]

    page.click("a[data-range='6h']")  # HTMX swaps the panel; its script draws again
    page.wait_for_selector("a.btn-secondary[data-range='6h']")
    page.wait_for_function("() => Chart.getChart(document.querySelector('canvas[data-metric=load]'))")
    assert chart_points(page, "load")[0][1] == 72
    if os.environ.get("HEALTH_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["HEALTH_SCREENSHOTS"], "host-health.png"), full_page=True)

    page.goto("/health/")
    assert page.locator("tr[data-hostname='luna'][data-health='failed']").is_visible()
    assert "Connection refused" in page.locator("#not-healthy").inner_text()
    if os.environ.get("HEALTH_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["HEALTH_SCREENSHOTS"], "failing-now.png"), full_page=True)


def test_the_panel_brings_its_charts_into_any_page(page, charted_host, viewer):  # noqa: F811
    """What the inventory host page does to show the panel: hx-get it into a page that has
    no Chart.js of its own."""
    log_in(page, viewer.username)
    page.goto("/changelog/")
    assert page.evaluate("() => typeof window.Chart") == "undefined"
    page.evaluate(f"""() => {{
        const slot = document.createElement("div");
        slot.setAttribute("hx-get", "/health/hosts/{charted_host.pk}/panel/");
        slot.setAttribute("hx-trigger", "load");
        slot.setAttribute("hx-swap", "outerHTML");
        document.querySelector("main").appendChild(slot);
        htmx.process(slot);
    }}""")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.querySelector('canvas[data-metric=memory]'))")
    assert chart_points(page, "memory") == [["Memory used %", 72]]
