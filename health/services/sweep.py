"""The sweep: check many hosts at once, each check within its own deadline.

Probes run on a thread pool of bounded size (HEALTH_SWEEP_CONCURRENCY). Each probe runs
in a thread of its own that the pool worker waits for at most the probe's timeout (plus
a little grace): a host that hangs (a frozen sshd, a libvirt that accepts and never
answers) costs one pool slot for its timeout, and never more. A probe still hanging
from an earlier sweep is not started again: the host is reported as still hanging.

Only the sweep's own thread touches the database: it writes each host's results,
statuses and health as soon as all of that host's probes are in.
"""

import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed

from django.utils import timezone

from .. import checks as check_types
from .. import conf
from ..checks.base import Outcome
from ..models import CheckResult, CheckStatus, HostHealth
from . import detection, hostkeys, schedules, targets

GRACE_SECONDS = 1.0  # beyond a probe's timeout, for its own deadline to report first

_hanging = set()
_hanging_lock = threading.Lock()


def run_bounded(plan):
    """The outcomes of `plan`, or failed outcomes once its timeout passed. Never raises."""
    started = time.monotonic()
    with _hanging_lock:
        if plan.key in _hanging:
            return _failed(plan, False, "the previous check of this host has not returned yet: it hangs", started)
        _hanging.add(plan.key)
    box, done = {}, threading.Event()

    def body():
        try:
            box["outcomes"] = plan.run()
        except Exception as exc:  # a bug in a check must not stop the sweep
            box["error"] = exc
        finally:
            with _hanging_lock:
                _hanging.discard(plan.key)
            done.set()

    threading.Thread(target=body, name=f"check-{plan.target.hostname}", daemon=True).start()
    if not done.wait(plan.timeout + GRACE_SECONDS):
        return _failed(plan, False, f"no answer within {plan.timeout:g}s (timeout)", started)
    if "error" in box:
        return _failed(plan, None, f"the check itself failed: {type(box['error']).__name__}: {box['error']}", started)
    return box["outcomes"]


def _failed(plan, alive, message, started):
    duration = int((time.monotonic() - started) * 1000)
    return [Outcome(check, False, alive, message, duration_ms=duration) for check in plan.checks]


def select_work(host_ids=None, checks=None, due_only=False, now=None, parse_keys=True):
    """(hosts by id, targets by id, {host id: checks to run}, problems by host id,
    [(host id, check)] whose status is stale: the check no longer runs on the host)."""
    now = now or timezone.now()
    hosts = {host.pk: host for host in targets.checked_hosts(host_ids)}
    found, problems = targets.build_targets(hosts.values(), parse_keys=parse_keys)
    book = schedules.ScheduleBook()
    last_run = defaultdict(dict)
    for host_id, check, checked_at in CheckStatus.objects.filter(host_id__in=hosts).values_list(
        "host_id", "check_type", "checked_at"
    ):
        last_run[host_id][check] = checked_at
    states = dict(HostHealth.objects.filter(host_id__in=hosts).values_list("host_id", "state"))
    work, stale = {}, []
    for host_id, host in hosts.items():
        applicable = check_types.applicable(found[host_id])
        stale.extend((host_id, check) for check in set(last_run[host_id]) - schedules.enabled_checks(host, applicable, book))
        if checks:
            applicable &= set(checks)
        if due_only:
            chosen = schedules.due_checks(host, applicable, book, last_run[host_id], states.get(host_id), now)
        else:
            chosen = schedules.enabled_checks(host, applicable, book)
        if chosen:
            work[host_id] = chosen
    return hosts, found, work, problems, stale


def anything_due(now=None):
    work = select_work(due_only=True, now=now, parse_keys=False)[2]
    return bool(work)


def sweep(recorder=None, host_ids=None, checks=None, due_only=False, concurrency=None):
    """Run the chosen checks on the chosen hosts (all checked hosts by default) and record
    what they found. Returns a summary for the Job's result."""
    started = time.monotonic()
    hosts, found, work, problems, stale = select_work(host_ids, checks, due_only)
    forget_statuses(stale)
    plans = [plan for host_id, chosen in work.items() for plan in check_types.plan(found[host_id], chosen)]
    waiting = defaultdict(int)
    for plan in plans:
        waiting[plan.target.host_id] += 1
    concurrency = max(1, int(concurrency or conf.integer("HEALTH_SWEEP_CONCURRENCY")))
    if recorder:
        recorder.log(f"Checking {len(work)} host(s) with {len(plans)} probe(s), {concurrency} at a time")
        _log_problems(recorder, hosts, problems)
    collected = defaultdict(list)
    summary = {"hosts": len(work), "checks": 0, "failed_checks": 0, "states": defaultdict(int), "failing": []}
    done_hosts, next_report = 0, 0
    pool = ThreadPoolExecutor(max_workers=min(concurrency, max(1, len(plans))), thread_name_prefix="health")
    try:
        futures = {pool.submit(run_bounded, plan): plan for plan in plans}
        for future in as_completed(futures):
            host_id = futures[future].target.host_id
            outcomes = future.result()
            collected[host_id].extend(outcomes)
            summary["checks"] += len(outcomes)
            summary["failed_checks"] += sum(1 for o in outcomes if not o.ok)
            waiting[host_id] -= 1
            if waiting[host_id]:
                continue
            health = record_host(hosts[host_id], collected.pop(host_id))
            done_hosts += 1
            _count(summary, hosts[host_id], health)
            if recorder and (done_hosts >= next_report or done_hosts == len(work)):
                recorder.progress(100 * done_hosts // max(1, len(work)), f"Checked {done_hosts} of {len(work)} hosts")
                next_report = done_hosts + max(1, len(work) // 10)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # a cancelled job stops at the checks running now
        raise
    pool.shutdown(wait=True)
    summary["states"] = dict(summary["states"])
    summary["seconds"] = round(time.monotonic() - started, 2)
    if recorder:
        recorder.log(f"Done in {summary['seconds']} s: {summary['failed_checks']} of {summary['checks']} checks failed")
    return summary


def _log_problems(recorder, hosts, problems, shown=5):
    """One log line per reason the SSH checks cannot run, naming a few of its hosts."""
    by_reason = defaultdict(list)
    for host_id, reasons in problems.items():
        for reason in reasons:
            by_reason[reason].append(hosts[host_id].hostname)
    for reason, names in sorted(by_reason.items()):
        more = f" and {len(names) - shown} more" if len(names) > shown else ""
        recorder.log(f"SSH checks off on {', '.join(sorted(names)[:shown])}{more}: {reason}")


def forget_statuses(stale):
    """Drop the latest status of checks that no longer run on a host (its credential,
    address or schedule went away), so it does not show as failing forever."""
    by_host = defaultdict(list)
    for host_id, check in stale:
        by_host[host_id].append(check)
    for host_id, checks in by_host.items():
        CheckStatus.objects.filter(host_id=host_id, check_type__in=checks).delete()


def _count(summary, host, health):
    summary["states"][str(health.state)] += 1
    if health.failing_checks:
        summary["failing"].append({"host": host.hostname, "checks": list(health.failing_checks), "state": health.state})


def record_host(host, outcomes, now=None):
    """Write one host's round: results, latest statuses, offered host keys, then its health."""
    now = now or timezone.now()
    for outcome in outcomes:
        if outcome.offered_key is not None:
            hostkeys.record_offered(host, outcome.offered_key, now)
    CheckResult.objects.bulk_create([
        CheckResult(host=host, check_type=o.check, ok=o.ok, alive=o.alive, value=o.value, message=o.message[:500],
                    duration_ms=o.duration_ms, checked_at=now)
        for o in outcomes
    ])
    previous = {s.check_type: s for s in CheckStatus.objects.filter(host=host)}
    for outcome in outcomes:
        _update_status(host, previous.get(outcome.check), outcome, now)
    return detection.evaluate(host, outcomes, now)


def _update_status(host, status, outcome, now):
    if status is None:
        status = CheckStatus(host=host, check_type=outcome.check, since=now)
    elif status.ok != outcome.ok:
        status.since = now
    status.consecutive_failures = 0 if outcome.ok else status.consecutive_failures + 1
    status.ok, status.alive, status.value = outcome.ok, outcome.alive, outcome.value
    status.message, status.duration_ms, status.checked_at = outcome.message[:500], outcome.duration_ms, now
    status.save()
