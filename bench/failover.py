"""Failover time: power off a lab hypervisor running two HA guests and measure the seconds
from the power-off to both guests running on another hypervisor (asked of libvirt), with
the product's default check schedules and detection settings, auto-recovery on.

The beat is played in-process: a scheduled sweep of the checks that are due every tick
(5 s, as the "Health checks" periodic task); the recovery job runs on a real Celery worker
(started here on a queue of its own, on the embedded broker unless CELERY_BROKER_URL says
otherwise), as in the product. The power-off lands at a random moment
after a warm-up, so the detection delay is what a real failure would see.

    python bench/failover.py [--runs 1] [--warmup 20]
"""

import argparse
import logging
import os
import random
import statistics
import subprocess
import sys
import threading
import time

from benchsetup import ROOT, setup_django

LAB_NAMES = ("fosource", "foactive", "fospare")
TICK = 5.0  # seconds between beat ticks of the "Health checks" task (core/schedules.py)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--warmup", type=float, default=20, help="seconds of healthy sweeps before the power-off")
    args = parser.parse_args()
    var_dir = setup_django("failover")

    import libvirt

    from access.models import SSHCredential
    from access.services import trust
    from core.actions import SYSTEM
    from health import conf
    from health.models import CheckSchedule, FenceDevice, HealthEvent, Recovery, SiteRecoveryPolicy
    from health.services import sweep
    from hypervisors.drivers import libvirt_driver as driver
    from hypervisors.lab import Lab
    from hypervisors.models import Hypervisor, VirtualMachine
    from hypervisors.services import sync
    from hypervisors.services.actions import domain_xml
    from inventory.models import Host, Role, Site

    logging.disable(logging.WARNING)  # the job logs are in the database; keep the output to the figures
    lab = Lab(var_dir / "lab-failover", net_index=254, names=LAB_NAMES)
    figures = []
    worker = _start_worker(var_dir)
    try:
        for run in range(1, args.runs + 1):
            hosts = lab.up(log=lambda line: None)
            _reset_database()
            site = Site.objects.create(name="Bench", slug="bench")
            SiteRecoveryPolicy.objects.create(site=site, auto_recover=True)
            role = Role.objects.create(name="Hypervisor", slug="hypervisor")
            SSHCredential.objects.create(name="lab", private_key=lab.ssh_key.read_text(), is_default=True)
            hvs = {}
            for name, lab_host in hosts.items():
                host = Host.objects.create(hostname=name, site=site, role=role, mgmt_address=lab_host.address,
                                           status="spare" if name == "fospare" else "active", cpu_cores=4,
                                           memory_mib=4096)
                trust.trust_public_key(host, lab_host.ssh_host_key, user=SYSTEM)
                hvs[name] = Hypervisor.objects.create(host=host, uri=lab_host.uri, shared_storage=True)
                FenceDevice.objects.create(host=host, agent="lab", lab_root=str(lab.root), timeout_seconds=10)
                _clear_guests(libvirt, lab_host.uri)
            guests = []
            conn = libvirt.open(hvs["fosource"].uri)
            for name in ("phobos", "deimos"):
                dom = conn.defineXML(domain_xml(name, 1, 64))
                dom.create()
                guests.append(dom.UUIDString())
            conn.close()
            sync.sync_all()
            VirtualMachine.objects.filter(uuid__in=guests).update(ha_enabled=True)

            beat = _Beat(sweep)
            beat.start()
            time.sleep(args.warmup + random.uniform(0, TICK * 3))
            watcher = _Watcher(libvirt, {n: hvs[n].uri for n in ("foactive", "fospare")}, guests)
            powered_off = time.monotonic()
            powered_off_at = time.time()
            lab.power_off("fosource")
            watcher.start()
            while not watcher.done.wait(1) and beat.is_alive():
                pass  # a beat that died (an error in a sweep) ends the run: its traceback is above
            beat.stop()
            source = hvs["fosource"].host
            failed = HealthEvent.objects.filter(host=source, to_state="failed").order_by("at").first()
            recovery = Recovery.objects.filter(host=source).first()
            if watcher.elapsed_from(powered_off) is None:
                print(f"run {run}: guests NOT running elsewhere after 180 s "
                      f"(recovery: {recovery.state if recovery else 'none'} {recovery.summary if recovery else ''})")
                continue
            seconds = watcher.elapsed_from(powered_off)
            figures.append(seconds)
            detected = failed.at.timestamp() - powered_off_at if failed else float("nan")
            fenced = (recovery.fence_attempt.finished_at.timestamp() - powered_off_at
                      if recovery and recovery.fence_attempt else float("nan"))
            print(f"run {run}: both guests running elsewhere {seconds:.1f} s after the power-off "
                  f"(detected failed at {detected:.1f} s, fenced at {fenced:.1f} s, recovery job "
                  f"{_job_seconds(recovery):.1f} s on the worker; "
                  f"where: {', '.join(sorted(set(watcher.where.values())))})")
            lab.power_on("fosource")
            driver.forget_all()
    finally:
        driver.forget_all()
        lab.down(log=lambda line: None)
        _stop_worker(worker)

    intervals = dict(CheckSchedule.objects.filter(role__isnull=True, host__isnull=True)
                     .values_list("check_type", "interval_seconds"))
    print(f"settings: beat tick {TICK:g} s; check intervals {intervals}; suspect re-check every "
          f"{conf.number('HEALTH_SUSPECT_INTERVAL_SECONDS'):g} s; failed after "
          f"{conf.integer('HEALTH_FAILURE_THRESHOLD')} failed rounds within "
          f"{conf.number('HEALTH_FAILURE_WINDOW_SECONDS'):g} s; liveness checks "
          f"{','.join(sorted(conf.liveness_checks()))}; timeouts ssh {conf.check_timeout('ssh'):g} s, "
          f"libvirt {conf.check_timeout('libvirt'):g} s; fence agent: lab power switch")
    if figures:
        print(f"failover: median {statistics.median(figures):.1f} s, max {max(figures):.1f} s over "
              f"{len(figures)} run(s) (target < 60 s)")


def _job_seconds(recovery, wait=30):
    """The recovery job's run time; the guests run before the job has written its result,
    so wait for that a little (nan if it never finishes)."""
    deadline = time.monotonic() + wait
    job = recovery.job if recovery else None
    while job is not None and job.finished_at is None and time.monotonic() < deadline:
        time.sleep(0.5)
        job.refresh_from_db()
    if not job or not job.started_at or not job.finished_at:
        return float("nan")
    return (job.finished_at - job.started_at).total_seconds()


def _start_worker(var_dir):
    """A real `celery worker` on a queue of its own (so a running `make run` worker never
    takes the bench's jobs); the recovery job this process enqueues runs there."""
    from opsconsole.celery import app

    queue = f"bench-failover-{os.getpid()}"
    app.conf.task_default_queue = queue
    log_path = var_dir / "failover-worker.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "opsconsole", "worker", "-Q", queue, "-c", "2", "-n", f"{queue}@%h",
         "--without-gossip", "--without-mingle", "-l", "INFO"],
        cwd=ROOT, env=dict(os.environ, CELERY_QUEUE=queue), stdout=log_path.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sys.exit(f"failover: the Celery worker did not start:\n{log_path.read_text()[-2000:]}")
        time.sleep(0.2)
    return proc


def _stop_worker(proc):
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _reset_database():
    from access.models import SSHCredential
    from hypervisors.models import Hypervisor, VirtualMachine
    from inventory.models import Host, Role, Site

    VirtualMachine.objects.all().delete()
    Hypervisor.objects.all().delete()
    Host.objects.all().delete()
    Role.objects.all().delete()
    Site.objects.all().delete()
    SSHCredential.objects.all().delete()


def _clear_guests(libvirt, uri):
    conn = libvirt.open(uri)
    for dom in conn.listAllDomains(0):
        if dom.isActive():
            dom.destroy()
        if dom.isPersistent():
            dom.undefine()
    conn.close()


class _Beat(threading.Thread):
    """The "Health checks" periodic task: every tick, one sweep of what is due."""

    def __init__(self, sweep):
        super().__init__(daemon=True)
        self.sweep, self.stopping = sweep, threading.Event()

    def run(self):
        from django.db import connection

        while not self.stopping.is_set():
            started = time.monotonic()
            self.sweep.sweep(due_only=True)
            self.stopping.wait(max(0.0, TICK - (time.monotonic() - started)))
        connection.close()

    def stop(self):
        self.stopping.set()
        self.join(120)


class _Watcher(threading.Thread):
    """Asks libvirt on the surviving hypervisors, every 0.2 s, where the guests run."""

    def __init__(self, libvirt, uris, guests):
        super().__init__(daemon=True)
        self.libvirt, self.uris, self.guests = libvirt, uris, guests
        self.where, self.finished_at, self.done = {}, None, threading.Event()

    def run(self):
        conns = {name: self.libvirt.open(uri) for name, uri in self.uris.items()}
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            for name, conn in conns.items():
                for guest in self.guests:
                    try:
                        if conn.lookupByUUIDString(guest).isActive():
                            self.where[guest] = name
                    except self.libvirt.libvirtError:
                        pass
            if len(self.where) == len(self.guests):
                self.finished_at = time.monotonic()
                break
            time.sleep(0.2)
        for conn in conns.values():
            conn.close()
        self.done.set()

    def elapsed_from(self, start):
        return None if self.finished_at is None else self.finished_at - start


if __name__ == "__main__":
    main()
