"""Health: scheduled checks, results, failure detection and alerts.

- Checks (health/checks, drivers in health/drivers): SSH login (access's SSH driver and
  credentials, host keys verified against keys an admin trusted), metrics over SSH (load, memory,
  disk per mount, uptime, failed systemd units), libvirt reachability and VM count
  (through hypervisors.drivers), TCP ports per role, BMC reachability.
- Scheduling: beat runs one tick (`health.scheduled_sweep`); CheckSchedule rows say how
  often each check runs for every host, a role or a host. A sweep is a Job running checks
  on a bounded thread pool, each within its own timeout (services/sweep.py).
- Results: raw CheckResult rows for a day, hourly CheckAggregate rows for a month
  (services/history.py), the latest CheckStatus per host and check, and HostHealth.
- Detection (services/detection.py): suspect, failed after N failed rounds within a
  window, recovered after M successes, flapping damped, maintenance not acted on; every
  change in the host's journal with its evidence; inventory status failed where the
  lifecycle allows; alerts by email and webhook (services/alerts.py, retried by a task).
- Recovery (services/recovery.py, a receiver of health.signals.host_failed): a failed
  hypervisor is fenced (services/fencing.py; agents in drivers/fence_*.py: IPMI via
  ipmitool, the lab's power switch, or a person confirming it is off; only a power state
  READ BACK as off counts) and its HA VMs restarted elsewhere by
  hypervisors/services/ha_restart.py. Per site (SiteRecoveryPolicy) this happens at once
  or is proposed to an operator. A failed host that is no hypervisor goes to
  inventory.services.recovery.propose_replacement when the inventory has it.
- /metrics: Prometheus text, behind a bearer token or an address allow-list.
"""
