"""Where automatic recovery plugs in. Detection calls these once per failure and once
per recovery, after its transaction committed, outside any lock.

Fencing and HA restart belong here (in their own service modules, called from
on_host_failed, or as receivers of health.signals.host_failed). Detection itself never
fences and never restarts anything.
"""

import logging

from ..signals import host_failed, host_recovered

logger = logging.getLogger(__name__)


def on_host_failed(host, evidence):
    """`host` (inventory Host) was just detected failed; `evidence` says why (JSON-able:
    the failed rounds, the window, the failed checks with their times and messages)."""
    logger.warning("health: %s failed (%s failed rounds)", host.hostname, evidence.get("failed_rounds"))
    host_failed.send(sender=on_host_failed, host=host, evidence=evidence)


def on_host_recovered(host, evidence):
    """`host` answers its checks again after a detected failure."""
    logger.info("health: %s recovered", host.hostname)
    host_recovered.send(sender=on_host_recovered, host=host, evidence=evidence)
