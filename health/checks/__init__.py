"""The check types and how they group into probes (one unit of work for the sweep's
thread pool: SSH login and metrics share one session)."""

from dataclasses import dataclass
from functools import partial

from .. import conf
from . import bmc, libvirt, ssh, tcp

SSH_CHECKS = ("ssh", "metrics")


@dataclass
class ProbePlan:
    target: object
    checks: tuple
    timeout: float
    run: object  # callable() -> [Outcome]

    @property
    def key(self):
        return (self.target.host_id, self.checks)


def applicable(target):
    """The checks that can run on `target` with what the inventory knows about it."""
    found = set()
    if target.address and target.ssh:
        found.update(SSH_CHECKS)
    if target.libvirt_uri:
        found.add("libvirt")
    if target.address and target.ports:
        found.add("tcp")
    if target.bmc_address:
        found.add("bmc")
    return found


def plan(target, checks):
    """The probes that run `checks` (already known applicable) on `target`."""
    plans = []
    ssh_checks = tuple(c for c in SSH_CHECKS if c in checks)
    if ssh_checks:
        timeout = max(conf.check_timeout(c) for c in ssh_checks)
        limits = (conf.number("HEALTH_DISK_CRITICAL_PERCENT"), conf.number("HEALTH_MEMORY_CRITICAL_PERCENT"))
        plans.append(ProbePlan(target, ssh_checks, timeout, partial(ssh.probe, target, ssh_checks, timeout, limits)))
    if "libvirt" in checks:
        timeout = conf.check_timeout("libvirt")
        plans.append(ProbePlan(target, ("libvirt",), timeout, partial(libvirt.probe, target, timeout)))
    if "tcp" in checks:
        timeout = conf.check_timeout("tcp")
        plans.append(ProbePlan(target, ("tcp",), timeout, partial(tcp.probe, target, timeout)))
    if "bmc" in checks:
        timeout = conf.check_timeout("bmc")
        tcp_ports = [int(p) for p in conf.items("HEALTH_BMC_TCP_PORTS")]
        plans.append(ProbePlan(target, ("bmc",), timeout,
                               partial(bmc.probe, target, timeout, conf.integer("HEALTH_BMC_RMCP_PORT"), tcp_ports)))
    return plans
