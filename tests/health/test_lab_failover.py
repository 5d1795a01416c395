"""Failover against the real lab: a hypervisor running two HA guests is powered off →
detected failed → fenced by the lab's power switch (power read back off) → both guests
run on the spare, exactly once each (asked of libvirt itself), with alerts delivered to
a webhook on 127.0.0.1 and the evidence in the journal. And the other way round: a
partitioned hypervisor whose fence agent cannot read the power back has its guests
restarted nowhere."""

import os
import stat
import time

import libvirt
import pytest
from django.urls import reverse

from core.models import Job
from health.models import FenceAttempt, FenceDevice, Recovery, SiteRecoveryPolicy
from health.services import sweep
from hypervisors.models import VirtualMachine
from hypervisors.services import sync
from inventory.models import JournalEntry
from tests.health.lab_guests import rounds_until_failed, running_on, running_on_reachable

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]


def break_and_detect(host, fault, undo):
    """A healthy round, then `fault`; sweep until detected failed; then `undo` whatever happened."""
    sweep.sweep(host_ids=[host.pk], checks=["ssh", "libvirt"])
    fault()
    try:
        assert rounds_until_failed(host)
    finally:
        undo()


def wait_for_deliveries(receiver, count, timeout=10):
    deadline = time.monotonic() + timeout
    while len(receiver.posts) < count and time.monotonic() < deadline:
        time.sleep(0.1)


def test_a_powered_off_hypervisor_is_fenced_and_its_ha_guests_run_once_on_the_spare(
        lab, trusted_estate, ha_guests, receiver, eager_celery):
    rhine = trusted_estate["rhine"]
    FenceDevice.objects.create(host=rhine, agent="lab", lab_root=str(lab.root), timeout_seconds=10)
    break_and_detect(rhine, lambda: lab.power_off("rhine"), lambda: lab.power_on("rhine"))

    recovery = Recovery.objects.get(host=rhine)
    assert recovery.state == "succeeded", recovery.summary
    assert recovery.automatic
    attempt = recovery.fence_attempt
    assert attempt.outcome == "fenced" and attempt.agent == "lab" and attempt.power_state == "off"
    assert attempt.evidence["read_back"] == {"state": "off", "processes": 0, "libvirt_port_open": False}
    assert attempt.evidence["failed_rounds"] == 3
    # libvirt itself: each guest runs on the spare and nowhere else (rhine is back on, empty).
    for guest in ha_guests:
        assert running_on(lab, guest) == ["thames"]
    assert set(VirtualMachine.objects.filter(uuid__in=ha_guests).values_list("hypervisor__host__hostname",
                                                                               "state")) == {("thames", "running")}
    thames = libvirt.open(lab.host("thames").uri)
    io_xml = thames.lookupByUUIDString(ha_guests[0]).XMLDesc(0)
    thames.close()
    assert "qcow2" in io_xml and "/shared/io-" in io_xml  # restarted on its own disk
    job = recovery.job
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    children = list(job.children.order_by("title"))
    assert [(c.title, c.state, c.progress) for c in children] == [
        ("Restart europa on thames", "succeeded", 100), ("Restart io on thames", "succeeded", 100)]
    assert "Evidence: 3 failed rounds (threshold 3), failing checks: libvirt, ssh" in job.log
    assert "Fence: rhine FENCED" in job.log and "power read back: off" in job.log

    journal = list(JournalEntry.objects.filter(host=rhine).values_list("text", flat=True))
    assert any(t.startswith("Health: rhine is FAILED") for t in journal)
    fenced = next(t for t in journal if t.startswith("Fence: rhine FENCED"))
    assert "asked by auto-recovery" in fenced and "read back: off (0 processes of the host left" in fenced
    restarted = next(t for t in journal if t.startswith("Recovery: rhine fenced; restarted 2 HA VMs"))
    assert "europa on thames" in restarted and "io on thames" in restarted

    wait_for_deliveries(receiver, 2)
    assert receiver.events() == ["failed", "ha_restarted"]
    assert receiver.posts[1]["evidence"]["fence"]["power_state"] == "off"
    assert {r["vm"] for r in receiver.posts[1]["evidence"]["recovery"]["restarted"]} == {"io", "europa"}

    # rhine is back on with the guests' old definitions, shut off: its sync removes them
    # (they run on thames) and does not move the records back.
    back = sync.sync_hypervisor(rhine.hypervisor)
    assert back["stale_removed"] == 2 and back["moved_here"] == 0, back
    assert set(VirtualMachine.objects.filter(uuid__in=ha_guests).values_list("hypervisor__host__hostname",
                                                                               "state")) == {("thames", "running")}
    conn = libvirt.open(lab.host("rhine").uri)
    assert [dom.UUIDString() for dom in conn.listAllDomains(0)] == []
    conn.close()
    for guest in ha_guests:
        assert running_on(lab, guest) == ["thames"]


@pytest.fixture
def hanging_ipmitool(tmp_path, monkeypatch):
    """An ipmitool whose BMC never answers (it lost power, or its network is cut)."""
    fake = tmp_path / "bin" / "ipmitool"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexec sleep 60\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    return fake


def test_a_partitioned_hypervisor_whose_fence_fails_keeps_its_guests_and_nothing_restarts(
        lab, trusted_estate, ha_guests, receiver, eager_celery, hanging_ipmitool):
    rhine = trusted_estate["rhine"]
    FenceDevice.objects.create(host=rhine, agent="ipmi", address="127.0.0.1", username="admin", password="secret",
                               timeout_seconds=2)
    break_and_detect(rhine, lambda: lab.partition("rhine"), lambda: lab.heal("rhine"))

    recovery = Recovery.objects.get(host=rhine)
    assert recovery.state == "fence_failed"
    assert "no VM was restarted anywhere" in recovery.summary
    attempt = FenceAttempt.objects.get(host=rhine)
    assert attempt.outcome == "failed" and attempt.power_state == "unknown"
    assert "no answer from the BMC" in attempt.output
    job = recovery.job
    job.refresh_from_db()
    assert job.state == Job.State.FAILED and "Fence of rhine failed" in job.message
    assert not job.children.exists()
    for guest in ha_guests:
        assert running_on(lab, guest) == ["rhine"]
    assert set(VirtualMachine.objects.filter(uuid__in=ha_guests).values_list("hypervisor__host__hostname",
                                                                               flat=True)) == {"rhine"}
    assert JournalEntry.objects.filter(host=rhine, kind="incident", text__startswith="Fence: rhine NOT fenced").exists()
    wait_for_deliveries(receiver, 2)
    assert receiver.events() == ["failed", "fence_failed"]


def test_with_auto_recovery_off_an_operator_confirms_the_host_is_off_and_the_guests_restart(
        lab, trusted_estate, ha_guests, receiver, eager_celery, client, operator):
    """No fence device: the proposal waits; 'Fence and restart' cannot fence (nothing is
    restarted); the operator checks the host and confirms it is off: then they restart."""
    rhine = trusted_estate["rhine"]
    SiteRecoveryPolicy.objects.filter(site=rhine.site).update(auto_recover=False)
    sweep.sweep(host_ids=[rhine.pk], checks=["ssh", "libvirt"])
    lab.power_off("rhine")
    try:
        assert rounds_until_failed(rhine)
        proposal = Recovery.objects.get(host=rhine)
        assert proposal.state == "proposed" and proposal.job is None
        client.force_login(operator)
        url = reverse("health:recover", args=[rhine.pk])
        client.post(url, {"mode": "fence", "confirm": "on"})
        failed = Recovery.objects.get(pk=proposal.pk)
        assert failed.state == "fence_failed"
        page = client.get(reverse("health:host", args=[rhine.pk])).content.decode()
        assert 'id="fence-failed-alert"' in page
        for guest in ha_guests:
            assert running_on_reachable(lab, guest) == []

        done = client.post(url, {"mode": "confirmed_off", "confirm": "on", "note": "checked: PSU lights off"})
        confirmed = Recovery.objects.exclude(pk=proposal.pk).get(host=rhine)
        assert done["Location"] == reverse("health:recovery_detail", args=[confirmed.pk])
        assert confirmed.state == "succeeded", confirmed.summary
        assert confirmed.fence_attempt.agent == "manual" and confirmed.fence_attempt.requested_by == operator
    finally:
        lab.power_on("rhine")
    for guest in ha_guests:
        assert running_on(lab, guest) == ["thames"]
    page = client.get(reverse("health:recovery_detail", args=[confirmed.pk])).content.decode()
    assert page.count('class="migration-item"') == 2 and "Restart io on thames" in page
    wait_for_deliveries(receiver, 3)
    assert receiver.events() == ["failed", "fence_failed", "ha_restarted"]
