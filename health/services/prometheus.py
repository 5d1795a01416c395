"""Current health in the Prometheus text exposition format (version 0.0.4), read from the
latest statuses in a fixed number of queries."""

import ipaddress
import secrets

from django.conf import settings

from .. import conf
from ..models import CheckStatus, HealthState, HostHealth

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


# Headers a proxy adds: a request carrying one came through something that may make every
# client look like loopback (the documented local TLS proxy does).
FORWARDING_HEADERS = ("HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PROTO",
                      "HTTP_X_REAL_IP", "HTTP_VIA")


def forwarded(meta):
    return any(meta.get(header) for header in FORWARDING_HEADERS)


def token_required(was_forwarded):
    """The address allow-list counts only in development and only for a request that came
    straight to the server; production settings always want the bearer token."""
    return was_forwarded or getattr(settings, "PRODUCTION", False)


def allowed(remote_addr, authorization_header, was_forwarded=False):
    """Whether a scrape may read /metrics: the configured bearer token, or (unless a token
    is required) a client address on the allow-list, REMOTE_ADDR as the server saw it."""
    token = str(conf.setting("HEALTH_METRICS_TOKEN") or "")
    if token and authorization_header:
        scheme, _, given = authorization_header.partition(" ")
        if scheme.lower() == "bearer" and secrets.compare_digest(given.strip().encode(), token.encode()):
            return True
    if token_required(was_forwarded):
        return False
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in conf.metrics_networks())


def escape(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def labels(**pairs):
    return "{" + ",".join(f'{name}="{escape(value)}"' for name, value in pairs.items()) + "}"


class Exposition:
    def __init__(self):
        self.families = {}

    def add(self, name, help_text, label_set, value):
        family = self.families.setdefault(name, (help_text, []))
        family[1].append(f"{name}{label_set} {_number(value)}")

    def render(self):
        lines = []
        for name, (help_text, samples) in self.families.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", *samples]
        return "\n".join(lines) + "\n"


def _number(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def render():
    out = Exposition()
    healths = HostHealth.objects.select_related("host__site", "host__role").order_by("host__hostname")
    for health in healths:
        host = health.host
        base = {"host": host.hostname, "site": host.site.slug, "role": host.role.slug if host.role_id else ""}
        if health.state != HealthState.UNKNOWN:  # never checked (no credential yet): not "down"
            out.add("opsconsole_host_up", "1 when the host's liveness checks answered at its last round",
                    labels(**base), health.consecutive_failures == 0)
        for state in HealthState.values:
            out.add("opsconsole_host_health_state", "1 for the host's current health state",
                    labels(**base, state=state), health.state == state)
        out.add("opsconsole_host_flapping", "1 when the host changes state too often", labels(**base), health.flapping)
        out.add("opsconsole_host_consecutive_failures", "Failed check rounds in a row", labels(**base),
                health.consecutive_failures)
        if health.last_check_at:
            out.add("opsconsole_host_last_check_timestamp_seconds", "When the host was last checked (Unix time)",
                    labels(**base), health.last_check_at.timestamp())
    statuses = CheckStatus.objects.select_related("host").order_by("host__hostname", "check_type")
    for status in statuses:
        host_label = {"host": status.host.hostname}
        out.add("opsconsole_check_ok", "1 when the check passed at its last run",
                labels(**host_label, check=status.check_type), status.ok)
        out.add("opsconsole_check_duration_seconds", "How long the check's last run took",
                labels(**host_label, check=status.check_type), status.duration_ms / 1000)
        out.add("opsconsole_check_last_run_timestamp_seconds", "When the check last ran (Unix time)",
                labels(**host_label, check=status.check_type), status.checked_at.timestamp())
        if status.check_type == "metrics":
            _metrics(out, host_label, status.value or {})
        if status.check_type == "libvirt" and "vms_running" in (status.value or {}):
            out.add("opsconsole_hypervisor_vms_running", "Running VMs libvirt reports", labels(**host_label),
                    status.value["vms_running"])
    return out.render()


def _metrics(out, host_label, value):
    for period in ("1", "5", "15"):
        if f"load{period}" in value:
            out.add("opsconsole_host_load", "Load average", labels(**host_label, period=f"{period}m"),
                    value[f"load{period}"])
    if "mem_used_pct" in value:
        out.add("opsconsole_host_memory_used_percent", "Memory in use (total minus available), percent",
                labels(**host_label), value["mem_used_pct"])
    for mount, percent in sorted((value.get("disks") or {}).items()):
        out.add("opsconsole_host_disk_used_percent", "Disk use per mount point, percent (df -P)",
                labels(**host_label, mount=mount), percent)
    if "uptime_s" in value:
        out.add("opsconsole_host_uptime_seconds", "Uptime", labels(**host_label), value["uptime_s"])
    if value.get("failed_units") is not None:
        out.add("opsconsole_host_failed_systemd_units", "Failed systemd units", labels(**host_label),
                len(value["failed_units"]))
