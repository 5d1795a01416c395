"""Fence agents without hardware: a fake `ipmitool` on PATH answers as a BMC would (or
does not answer), which tests our command lines, parsing and the read-back rule: only a
power state read back as off is a fence."""

import os
import stat

import pytest

from health.drivers import fence_ipmi
from health.models import FenceAttempt, FenceDevice
from health.services import fencing
from inventory.models import JournalEntry

BMC_OFF = """#!/bin/sh
echo "$@" >> "$CALLS"
echo "password=$IPMI_PASSWORD" >> "$CALLS"
case "$*" in
  *"power off") echo "Chassis Power Control: Down/Off" ;;
  *"power status") echo "Chassis Power is off" ;;
esac
"""
BMC_STAYS_ON = """#!/bin/sh
case "$*" in
  *"power off") echo "Chassis Power Control: Down/Off" ;;
  *"power status") echo "Chassis Power is on" ;;
esac
"""
BMC_UNREACHABLE = """#!/bin/sh
echo "Error: Unable to establish IPMI v2 / RMCP+ session" >&2
exit 1
"""
BMC_HANGS = "#!/bin/sh\nexec sleep 60\n"


@pytest.fixture
def fake_ipmitool(tmp_path, monkeypatch):
    def install(script):
        fake = tmp_path / "bin" / "ipmitool"
        fake.parent.mkdir(exist_ok=True)
        fake.write_text(script)
        fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("CALLS", str(tmp_path / "calls"))
        return tmp_path / "calls"

    return install


def test_ipmi_off_read_back_off_is_a_fence_and_the_password_stays_off_the_command_line(fake_ipmitool):
    calls = fake_ipmitool(BMC_OFF)
    result = fence_ipmi.power_off("10.0.0.5", "admin", "s3cret", timeout=5)
    assert result.fenced and result.power_state == "off"
    lines = calls.read_text().splitlines()
    assert lines[0] == "-I lanplus -H 10.0.0.5 -E -N 1 -R 1 -U admin chassis power off"
    assert lines[2] == "-I lanplus -H 10.0.0.5 -E -N 1 -R 1 -U admin chassis power status"
    assert "password=s3cret" in lines and not any("s3cret" in line for line in lines[0::2])
    assert "chassis power off: Chassis Power Control: Down/Off" in result.transcript
    assert "read back: chassis power status: Chassis Power is off" in result.transcript


def test_ipmi_off_accepted_but_still_on_is_a_failed_fence(fake_ipmitool):
    fake_ipmitool(BMC_STAYS_ON)
    result = fence_ipmi.power_off("10.0.0.5", "admin", "x", timeout=2)
    assert not result.fenced and result.power_state == "on"


def test_a_bmc_that_cannot_answer_is_a_failed_fence_never_a_success(fake_ipmitool):
    fake_ipmitool(BMC_UNREACHABLE)
    result = fence_ipmi.power_off("10.0.0.5", "admin", "x", timeout=2)
    assert not result.fenced and result.power_state == "unknown"
    assert "failed (exit 1): Error: Unable to establish IPMI v2 / RMCP+ session" in result.transcript


def test_a_hanging_bmc_is_cut_off_at_the_timeout(fake_ipmitool):
    fake_ipmitool(BMC_HANGS)
    result = fence_ipmi.power_off("10.0.0.5", "admin", "x", timeout=1)
    assert result.power_state == "unknown" and "no answer from the BMC" in result.transcript


def test_fence_host_records_the_attempt_and_the_journal_says_what_was_read_back(fake_ipmitool, host, operator):
    fake_ipmitool(BMC_OFF)
    FenceDevice.objects.create(host=host, agent="ipmi", address="10.0.0.5", username="admin", password="s3cret")
    attempt = fencing.fence_host(host, user=operator, reason="test")
    assert attempt.outcome == FenceAttempt.Outcome.FENCED and attempt.power_state == "off"
    assert attempt.requested_by == operator and attempt.finished_at is not None
    assert attempt.evidence["read_back"]["answer"] == "Chassis Power is off"
    entry = JournalEntry.objects.get(host=host, text__startswith="Fence:")
    assert f"{host.hostname} FENCED" in entry.text and f"asked by {operator.username}" in entry.text
    assert "s3cret" not in entry.text and "s3cret" not in attempt.output


def test_without_a_fence_device_a_host_is_not_fenced(host):
    attempt = fencing.fence_host(host, automatic=True)
    assert attempt.outcome == FenceAttempt.Outcome.FAILED and attempt.agent == "manual"
    assert "no fence device is configured" in attempt.output
    entry = JournalEntry.objects.get(host=host, kind="incident")
    assert "NOT fenced" in entry.text and "NOT started anywhere else" in entry.text


def test_a_person_confirming_power_off_is_a_fence_with_their_name(host, operator):
    attempt = fencing.confirm_powered_off(host, operator, note="pulled both PSUs")
    assert attempt.fenced and attempt.agent == "manual" and attempt.power_state == "off"
    entry = JournalEntry.objects.get(host=host, text__startswith="Fence:")
    assert entry.author == operator and f"confirmed powered off by {operator.username}: pulled both PSUs" in entry.text
