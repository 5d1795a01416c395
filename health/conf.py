"""The health app's settings, each with its default, so checks and detection work with
nothing set. Every value can be set in Django settings (e.g. in tests with the
`settings` fixture) or through the environment variable of the same name."""

import ipaddress
import os

from django.conf import settings

DEFAULTS = {
    # Sweep: how many checks run at once (threads) and how long one check may take.
    "HEALTH_SWEEP_CONCURRENCY": "32",
    "HEALTH_TIMEOUT_SSH": "10",
    "HEALTH_TIMEOUT_METRICS": "15",
    "HEALTH_TIMEOUT_LIBVIRT": "10",
    "HEALTH_TIMEOUT_TCP": "5",
    "HEALTH_TIMEOUT_BMC": "5",
    # Detection: suspect at the first failed round, failed after N failed rounds within the
    # window; recovered after M successful rounds; flapping beyond K state changes an hour.
    "HEALTH_FAILURE_THRESHOLD": "3",
    "HEALTH_FAILURE_WINDOW_SECONDS": "300",
    "HEALTH_RECOVERY_THRESHOLD": "2",
    "HEALTH_FLAP_THRESHOLD": "6",
    "HEALTH_FLAP_WINDOW_SECONDS": "3600",
    # A suspect or failed host has its liveness checks repeated at least this often, so a
    # failure is confirmed (or cleared) in seconds rather than after several intervals.
    "HEALTH_SUSPECT_INTERVAL_SECONDS": "10",
    # Checks whose answer proves the host is alive; the others (ports, metrics, BMC) are
    # recorded and shown but never make a host failed.
    "HEALTH_LIVENESS_CHECKS": "ssh,libvirt",
    # Metrics that make the metrics check fail (it never makes the host failed).
    "HEALTH_DISK_CRITICAL_PERCENT": "95",
    "HEALTH_MEMORY_CRITICAL_PERCENT": "98",
    # History: raw results for this long, then hourly aggregates for this long.
    "HEALTH_RAW_RETENTION_HOURS": "24",
    "HEALTH_AGGREGATE_RETENTION_DAYS": "30",
    "HEALTH_EVENT_RETENTION_DAYS": "180",
    "HEALTH_SWEEP_JOB_RETENTION_HOURS": "6",
    # Alerts: attempts per delivery and the first retry delay (doubled at each retry).
    "HEALTH_ALERT_MAX_ATTEMPTS": "6",
    "HEALTH_ALERT_RETRY_SECONDS": "10",
    "HEALTH_WEBHOOK_TIMEOUT": "5",
    "HEALTH_ALERT_FROM_EMAIL": "opsconsole@localhost",
    # /metrics: a bearer token (Authorization: Bearer <token>), and/or the client
    # addresses (REMOTE_ADDR; comma-separated IPs or networks) allowed without one.
    "HEALTH_METRICS_TOKEN": "",
    "HEALTH_METRICS_ALLOWED_IPS": "127.0.0.1,::1",
    # The BMC check: an RMCP presence ping on UDP (the IPMI service itself) and TCP
    # connects to these ports (Redfish/web UI).
    "HEALTH_BMC_RMCP_PORT": "623",
    "HEALTH_BMC_TCP_PORTS": "443",
}


def setting(name):
    """The Django setting `name`, else the environment variable, else the default."""
    if hasattr(settings, name):
        return getattr(settings, name)
    return os.environ.get(name, DEFAULTS[name])


def number(name):
    return float(setting(name))


def integer(name):
    return int(setting(name))


def items(name):
    value = setting(name)
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def check_timeout(check):
    return number(f"HEALTH_TIMEOUT_{check.upper()}")


def liveness_checks():
    return set(items("HEALTH_LIVENESS_CHECKS"))


def metrics_networks():
    """The allow-list of /metrics as ip_network objects (bad entries are a configuration error)."""
    return [ipaddress.ip_network(entry, strict=False) for entry in items("HEALTH_METRICS_ALLOWED_IPS")]
