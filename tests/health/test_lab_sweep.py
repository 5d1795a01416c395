"""One hanging or slow host never delays the sweep of the others beyond its timeout."""

import time

import pytest

from health.models import CheckResult
from health.services import sweep

pytestmark = pytest.mark.lab

TIMEOUT = 3  # seconds, every check (fast_detection)
MARGIN = 3  # the sweep's own work: writing results, thread start-up


def test_a_hung_and_a_slow_host_cost_the_sweep_no_more_than_their_timeout(lab, trusted_estate):
    healthy = [trusted_estate["rhine"], trusted_estate["danube"]]
    lab.hang("volga")  # its sshd and libvirtd accept connections (the kernel does) and never answer
    lab.slow("thames", rate="8kbit", latency="5s")
    try:
        started = time.monotonic()
        summary = sweep.sweep(checks=["ssh", "metrics", "libvirt"])
        took = time.monotonic() - started
    finally:
        lab.heal("volga")
        lab.heal("thames")

    assert summary["hosts"] == 4
    assert took < TIMEOUT + sweep.GRACE_SECONDS + MARGIN, f"the sweep took {took:.1f}s"
    for host in healthy:
        results = CheckResult.objects.filter(host=host)
        assert results.count() == 3 and all(r.ok for r in results), [r.message for r in results]
        # Not held up by the others: each answered well within its own timeout.
        assert all(r.duration_ms < TIMEOUT * 1000 for r in results)
    hung = CheckResult.objects.filter(host=trusted_estate["volga"])
    assert hung.count() == 3 and not any(r.ok for r in hung)
    assert all(r.alive is False for r in hung), [r.message for r in hung]  # no answer: evidence of a dead host


def test_a_check_still_hanging_is_not_started_twice(lab, trusted_estate, settings):
    settings.HEALTH_TIMEOUT_LIBVIRT = 1
    volga = trusted_estate["volga"]
    lab.hang("volga")
    try:
        sweep.sweep(host_ids=[volga.pk], checks=["libvirt"])
        sweep.sweep(host_ids=[volga.pk], checks=["libvirt"])
    finally:
        lab.heal("volga")
    first, second = CheckResult.objects.filter(host=volga).order_by("checked_at")
    assert "timeout" in first.message
    assert "has not returned yet" in second.message
