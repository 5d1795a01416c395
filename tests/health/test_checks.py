"""Checks without the lab: the metrics parser, TCP ports and the BMC probe against
listeners of the test's own on 127.0.0.1, and a probe that hangs."""

import socket
import subprocess
import threading
import time

import pytest

from access.drivers import ssh as ssh_driver
from health.checks import ProbePlan, bmc, metrics, tcp
from health.checks.base import Target
from health.drivers import net
from health.services.sweep import run_bounded

DF = """Filesystem     1024-blocks      Used Available Capacity Mounted on
overlay          102626232  61575740  35791236      64% /
/dev/vdb1         51474912  49000000   2474912      96% /srv/data files
tmpfs                65536         0     65536       0% /dev
"""


def test_metrics_are_parsed_from_the_script_output():
    stdout = (f"{metrics.LOGIN_MARKER}\n@@load\n0.52 0.58 0.59 1/123 4567\n@@mem\nMemTotal:  16315084 kB\n"
              f"MemAvailable:  8157542 kB\n@@uptime\n12345.67 54321.00\n@@df\n{DF}@@systemd\nnginx.service\n"
              "cron.service\n@@end\n")
    value = metrics.parse(stdout)
    assert (value["load1"], value["load5"], value["load15"]) == (0.52, 0.58, 0.59)
    assert value["mem_used_pct"] == 50.0 and value["mem_total_mib"] == 15932
    assert value["uptime_s"] == 12345
    assert value["disks"] == {"/": 64, "/srv/data files": 96}
    assert value["failed_units"] == ["nginx.service", "cron.service"]
    found = metrics.problems(value, disk_critical=95, memory_critical=98)
    assert found == ["disk /srv/data files 96% full", "2 failed systemd units: nginx.service, cron.service"]


def test_no_systemd_is_not_a_problem():
    value = metrics.parse("@@load\n1 1 1 1/1 1\n@@systemd\n@@no-systemd\n@@end\n")
    assert value["failed_units"] is None
    assert metrics.problems(value, 95, 98) == []


def test_the_metrics_script_runs_here():
    """The script is plain sh over /proc and df: it runs on this machine as on a host."""
    stdout = subprocess.run(["sh", "-c", metrics.SCRIPT], capture_output=True, text=True, timeout=30).stdout
    value = metrics.parse(stdout)
    assert metrics.LOGIN_MARKER in stdout
    assert value["load1"] >= 0 and 0 < value["mem_used_pct"] < 100 and value["disks"]


@pytest.fixture
def listener():
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()[1]
    server.close()


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # bound, never listened: connecting is refused


def test_tcp_ports(listener):
    missing = closed_port()
    target = Target(1, "luna", "127.0.0.1", ports=[(listener, "PostgreSQL"), (missing, "")])
    (result,) = tcp.probe(target, timeout=2)
    assert not result.ok
    assert result.value == {str(listener): True, str(missing): False}
    assert f"{missing}: tcp/{missing} refused" in result.message
    (result,) = tcp.probe(Target(1, "luna", "127.0.0.1", ports=[(listener, "")]), timeout=2)
    assert result.ok and result.message == f"listening on {listener}"


@pytest.fixture
def rmcp_responder():
    """A UDP server answering RMCP presence pings with a pong, as a BMC does."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(64)
            except TimeoutError:
                continue
            if data == net.RMCP_PRESENCE_PING:
                sock.sendto(bytes([0x06, 0x00, 0xFF, 0x06, 0x00, 0x00, 0x11, 0xBE, 0x40, 0x00, 0x00, 0x10]), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join()
    sock.close()


def test_bmc_answers_with_an_rmcp_pong(rmcp_responder):
    (result,) = bmc.probe(Target(1, "luna", bmc_address="127.0.0.1"), 2, rmcp_responder, [])
    assert result.ok and result.value["ipmi"] is True
    assert "RMCP presence pong (IPMI answers)" in result.message


def test_bmc_says_what_it_really_tested(listener):
    (result,) = bmc.probe(Target(1, "luna", bmc_address="127.0.0.1"), 2, closed_port(), [listener])
    # udp refused already proves the address answers; it is not taken for an IPMI answer
    assert result.ok and result.value["ipmi"] is False
    assert "no IPMI service" in result.message


def test_a_hanging_probe_is_abandoned_at_its_timeout():
    release = threading.Event()
    plan = ProbePlan(Target(7, "marvin"), ("ssh",), 0.5, lambda: release.wait(30) and [])
    started = time.monotonic()
    (first,) = run_bounded(plan)
    assert time.monotonic() - started < 0.5 + 1.0 + 0.5
    assert not first.ok and first.alive is False and "timeout" in first.message
    (second,) = run_bounded(plan)  # still hanging: not started twice
    assert "has not returned yet" in second.message
    release.set()


def test_a_crashing_probe_says_so_without_blaming_the_host():
    plan = ProbePlan(Target(8, "arthur"), ("tcp",), 1, lambda: 1 / 0)
    (result,) = run_bounded(plan)
    assert not result.ok and result.alive is None and "ZeroDivisionError" in result.message


def test_ssh_refuses_unknown_keys_and_reports_unreachable_hosts():
    port = closed_port()
    with pytest.raises(ssh_driver.Unreachable, match="refused|Connection"):
        ssh_driver.run("127.0.0.1", port, "root", None, [], "true", timeout=2)


@pytest.fixture
def fake_ping(tmp_path, monkeypatch):
    """A `ping` first on PATH that records its arguments (one per line) and answers."""
    record = tmp_path / "ping-args"
    binary = tmp_path / "bin" / "ping"
    binary.parent.mkdir()
    binary.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\nexit 0\n')
    binary.chmod(0o755)
    monkeypatch.setenv("PATH", f"{binary.parent}:/usr/bin:/bin")
    return record


def test_ping_ends_its_options_before_the_address(fake_ping):
    assert net.icmp_ping("127.0.0.1", 1).answered
    assert fake_ping.read_text().splitlines() == ["-c", "1", "-W", "1", "--", "127.0.0.1"]


@pytest.mark.parametrize("address", ["-f", "--help", "-I eth0 127.0.0.1", "/tmp/x", "bmc.example;id", "a..b"])
def test_a_bmc_address_that_is_not_an_address_is_never_probed(fake_ping, address):
    (result,) = bmc.probe(Target(1, "luna", bmc_address=address), 1, closed_port(), [])
    assert not result.ok and "is not an IP address or host name" in result.message
    assert not fake_ping.exists()


@pytest.mark.parametrize("address", ["192.0.2.10", "2001:db8::10", "luna-bmc.ams1.example"])
def test_ip_addresses_and_host_names_are_probed(fake_ping, monkeypatch, address):
    # No RMCP answer (without waiting for one), so the probe goes on to ping.
    monkeypatch.setattr(net, "rmcp_ping", lambda *args: net.Probe(False, False, "udp/623 no RMCP presence pong"))
    (result,) = bmc.probe(Target(1, "luna", bmc_address=address), 1, closed_port(), [])
    assert result.ok and result.message == f"BMC {address} answers: ICMP echo reply"
    assert fake_ping.read_text().splitlines()[-2:] == ["--", address]
