"""The lab's power switch, as the lab fence agent uses it: power off really stops every
process of the host, its guests' QEMUs included (each runs in a mount namespace of its
own), and the read-back tells off from a host that is only cut off."""

import libvirt
import pytest

from health.drivers import fence_lab
from hypervisors.lab import namespace_pids
from hypervisors.services.actions import domain_xml

pytestmark = pytest.mark.lab


def qemu_pids(lab, name):
    return [pid for pid in namespace_pids(lab.host(name)) if "qemu" in open(f"/proc/{pid}/comm").read()]


def test_power_off_stops_the_guests_too_and_reads_back_off(lab):
    conn = libvirt.open(lab.host("volga").uri)
    dom = conn.defineXML(domain_xml("power-guest", 1, 64))
    dom.create()
    conn.close()
    assert len(qemu_pids(lab, "volga")) == 1
    assert lab.power_state("volga")["state"] == "on"
    try:
        result = fence_lab.power_off(str(lab.root), "volga", timeout=10)
        assert result.fenced and result.detail == {"state": "off", "processes": 0, "libvirt_port_open": False}
        assert namespace_pids(lab.host("volga")) == []
    finally:
        lab.power_on("volga")


def test_a_partitioned_host_reads_back_on_and_an_unknown_lab_is_not_a_fence(lab, tmp_path):
    lab.partition("danube")
    try:
        state = lab.power_state("danube")
        assert state["state"] == "on" and state["processes"] > 0 and not state["libvirt_port_open"]
    finally:
        lab.heal("danube")
    result = fence_lab.power_off(str(tmp_path / "no-lab"), "danube", timeout=1)
    assert not result.fenced and result.power_state == "unknown"
    assert "no lab host named danube" in result.transcript
    assert lab.power_state("danube")["state"] == "on"  # the real danube was never touched
