"""The SSH checks: login (key auth, host key verified) and, in the same session when
both are due, the metrics script."""

from access.drivers import ssh as driver

from . import metrics as metrics_script
from .base import OfferedKey, Outcome, Stopwatch

LOGIN_COMMAND = f"echo {metrics_script.LOGIN_MARKER}"


def probe(target, checks, timeout, limits):
    """Outcomes for `checks` (a subset of {"ssh", "metrics"}) from one SSH session.

    limits: (disk critical %, memory critical %) for the metrics check."""
    watch = Stopwatch()
    access = target.ssh
    command = metrics_script.SCRIPT if "metrics" in checks else LOGIN_COMMAND
    try:
        result = driver.run(target.address, access.port, access.username, access.pkey, access.trusted_keys,
                            command, timeout)
    except driver.SSHFailure as exc:
        offered = _offered(exc)
        return [Outcome(check, False, exc.alive, str(exc), duration_ms=watch.ms, offered_key=offered)
                for check in checks]
    login_ok = result.exit_status == 0 and metrics_script.LOGIN_MARKER in result.stdout
    where = f"{access.username}@{target.address}:{access.port}"
    outcomes = []
    if "ssh" in checks:
        message = f"logged in as {where}" if login_ok else f"logged in as {where}, but the shell did not answer (exit {result.exit_status})"
        outcomes.append(Outcome("ssh", login_ok, True, message, {"credential": access.credential}, watch.ms))
    if "metrics" in checks:
        outcomes.append(_metrics_outcome(result, limits, watch))
    return outcomes


def _metrics_outcome(result, limits, watch):
    try:
        value = metrics_script.parse(result.stdout)
    except (ValueError, IndexError) as exc:
        return Outcome("metrics", False, True, f"could not read the metrics: {exc}", duration_ms=watch.ms)
    if "load1" not in value:
        return Outcome("metrics", False, True, "no metrics in the answer (no /proc?)", value, watch.ms)
    found = metrics_script.problems(value, *limits)
    message = "; ".join(found) if found else metrics_script.summary(value)
    return Outcome("metrics", not found, True, message, value, watch.ms)


def _offered(exc):
    if isinstance(exc, driver.HostKeyChanged):
        return OfferedKey(exc.key.get_name(), exc.key.get_base64(), driver.fingerprint(exc.key),
                          replaces=driver.fingerprint(exc.expected))
    if isinstance(exc, driver.UnknownHostKey):
        return OfferedKey(exc.key.get_name(), exc.key.get_base64(), driver.fingerprint(exc.key))
    return None
