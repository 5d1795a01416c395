"""libvirt domain lifecycle events: VM state changes show up as they happen, without
waiting for the next sync.

One listener keeps its own connection to every enabled hypervisor (not the cached one
the jobs use, so a job dropping its connection never silences the events), registers a
lifecycle callback on it, and records each event. libvirt calls the callbacks on its
event-loop thread; they only queue the event, and the listener's own thread does the
database work. A connection that dies is reopened (with a catch-up sync, since events
were missed meanwhile); newly added or enabled hypervisors are picked up periodically.
"""

import itertools
import logging
import queue
import threading
import time
from dataclasses import dataclass

from django.db import close_old_connections, connections

from ..drivers import libvirt_driver as driver
from ..drivers.libvirt_driver import libvirt
from ..models import Hypervisor, VirtualMachine
from .leftovers import INACTIVE as INACTIVE_STATES
from .sync import apply_domain_event, sync_hypervisor

logger = logging.getLogger(__name__)

RESYNC = "resync"  # the domain list changed: read the whole hypervisor again
IGNORE = None


def classify(event, detail):
    """What a lifecycle event means for our records: a VM state, RESYNC or IGNORE.

    A live migration shows on the target as STARTED(migrated) while the guest is still
    paused there, and on the source as SUSPENDED(migrated) then STOPPED(migrated); the
    move itself is RESUMED(migrated) on the target. The in-between steps are ignored so a
    failed migration never leaves the VM recorded on the wrong host."""
    if event in (libvirt.VIR_DOMAIN_EVENT_DEFINED, libvirt.VIR_DOMAIN_EVENT_UNDEFINED):
        return RESYNC
    if event == libvirt.VIR_DOMAIN_EVENT_STARTED:
        return IGNORE if detail == libvirt.VIR_DOMAIN_EVENT_STARTED_MIGRATED else VirtualMachine.State.RUNNING
    if event == libvirt.VIR_DOMAIN_EVENT_RESUMED:
        return VirtualMachine.State.RUNNING
    if event == libvirt.VIR_DOMAIN_EVENT_SUSPENDED:
        migrating = (libvirt.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED, libvirt.VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY)
        return IGNORE if detail in migrating else VirtualMachine.State.PAUSED
    if event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
        return IGNORE if detail == libvirt.VIR_DOMAIN_EVENT_STOPPED_MIGRATED else VirtualMachine.State.SHUTOFF
    if event == libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED:
        return VirtualMachine.State.PMSUSPENDED
    if event == libvirt.VIR_DOMAIN_EVENT_CRASHED:
        return VirtualMachine.State.CRASHED
    return IGNORE  # SHUTDOWN (a STOPPED follows) and anything newer than this code


def record_event(hypervisor_id, uuid, event, detail):
    """Apply one lifecycle event. Returns what it did: "applied", "ignored", or RESYNC
    when the caller must sync the hypervisor (unknown domain, defined or undefined)."""
    meaning = classify(event, detail)
    if meaning is IGNORE:
        return "ignored"
    vm = VirtualMachine.objects.filter(uuid=uuid).select_related("busy_job").first()
    if vm is not None and vm.busy_job_id and not vm.busy_job.is_finished:
        return "ignored"  # a job is moving or changing it and records the outcome itself
    if meaning == RESYNC or vm is None:
        return RESYNC
    if meaning in INACTIVE_STATES and vm.hypervisor_id != hypervisor_id:
        return "ignored"  # a leftover stopping on a host the VM has left
    return "applied" if apply_domain_event(hypervisor_id, uuid, meaning) else RESYNC


@dataclass
class _Watch:
    """The listener's connection to one hypervisor."""

    hypervisor_id: int
    uri: str
    name: str
    conn: object = None
    generation: int = 0  # tells this connection's close notice from an older one's
    callback_id: int = -1
    retry_at: float = 0.0
    failing: bool = False


class EventListener:
    def __init__(self, refresh_interval=30.0, retry_interval=5.0, poll_interval=0.5, log=None):
        self.refresh_interval = refresh_interval
        self.retry_interval = retry_interval
        self.poll_interval = poll_interval
        self.log = log or logger.info
        self.events = queue.Queue()
        self.watches: dict[int, _Watch] = {}
        self._generations = itertools.count(1)

    # ----- the loop ----------------------------------------------------------------
    def run(self, stop: threading.Event):
        """Listen until `stop` is set; then close every connection it opened."""
        driver.ensure_event_loop()
        next_refresh = 0.0
        try:
            while not stop.is_set():
                close_old_connections()
                if time.monotonic() >= next_refresh:
                    self.refresh()
                    next_refresh = time.monotonic() + self.refresh_interval
                self.keep_connected()
                self.process(timeout=self.poll_interval)
        finally:
            for watch in list(self.watches.values()):
                self._disconnect(watch)
            connections.close_all()

    def refresh(self):
        """Follow the hypervisor table: watch the enabled ones, drop the others."""
        wanted = {hv.pk: hv for hv in Hypervisor.objects.filter(enabled=True).select_related("host")}
        for pk in set(self.watches) - set(wanted):
            self._disconnect(self.watches.pop(pk))
        for pk, hypervisor in wanted.items():
            watch = self.watches.get(pk)
            if watch is not None and watch.uri != hypervisor.uri:
                self._disconnect(self.watches.pop(pk))
                watch = None
            if watch is None:
                self.watches[pk] = _Watch(pk, hypervisor.uri, hypervisor.name)

    def keep_connected(self):
        now = time.monotonic()
        for watch in self.watches.values():
            if watch.conn is not None and not self._alive(watch):
                self._lost(watch, "keepalive says the connection is dead")
            if watch.conn is None and now >= watch.retry_at:
                self._connect(watch)

    def process(self, timeout):
        """Handle the events queued so far (waiting up to `timeout` for the first), then
        sync once each hypervisor whose domain list changed."""
        try:
            batch = [self.events.get(timeout=timeout)]
        except queue.Empty:
            return
        while True:
            try:
                batch.append(self.events.get_nowait())
            except queue.Empty:
                break
        resync = []
        for kind, hypervisor_id, generation, *payload in batch:
            watch = self.watches.get(hypervisor_id)
            if watch is None or watch.generation != generation:
                continue  # from a connection already replaced or dropped
            if kind == "closed":
                self._lost(watch, f"libvirt closed the connection (reason {payload[0]})")
                continue
            uuid, event, detail = payload
            try:
                outcome = record_event(hypervisor_id, uuid, event, detail)
            except Exception:  # one bad event must not stop the listener
                logger.exception("event %s/%s on %s", event, detail, watch.name)
                continue
            logger.debug("%s: domain %s event %s/%s: %s", watch.name, uuid, event, detail, outcome)
            if outcome == RESYNC and hypervisor_id not in resync:
                resync.append(hypervisor_id)
        for hypervisor_id in resync:
            self._sync(hypervisor_id)

    # ----- connections ------------------------------------------------------------
    def _connect(self, watch):
        conn = None
        try:
            conn = driver.open_connection(watch.uri)
            generation = next(self._generations)
            watch.callback_id = conn.domainEventRegisterAny(
                None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle, (watch.hypervisor_id, generation)
            )
            conn.registerCloseCallback(self._on_close, (watch.hypervisor_id, generation))
        except (driver.HypervisorUnreachable, libvirt.libvirtError) as exc:
            if conn is not None:
                _close(conn)
            watch.retry_at = time.monotonic() + self.retry_interval
            if not watch.failing:
                self.log(f"events: {watch.name} unreachable ({exc}); retrying every {self.retry_interval:g} s")
                watch.failing = True
                self._sync(watch.hypervisor_id)  # records it unreachable, its VMs unknown
            return
        watch.conn, watch.generation, watch.failing = conn, generation, False
        self.log(f"events: listening to {watch.name} ({watch.uri})")
        self._sync(watch.hypervisor_id)  # catch up with what happened while nobody listened

    def _lost(self, watch, why):
        self.log(f"events: lost {watch.name}: {why}; reconnecting")
        self._disconnect(watch)
        watch.retry_at = 0.0

    def _disconnect(self, watch):
        conn, watch.conn, watch.generation = watch.conn, None, 0
        if conn is None:
            return
        for undo in (lambda: conn.domainEventDeregisterAny(watch.callback_id), conn.unregisterCloseCallback):
            try:
                undo()
            except (libvirt.libvirtError, KeyError):
                pass  # a dead connection has nothing left to undo
        _close(conn)

    @staticmethod
    def _alive(watch):
        try:
            return bool(watch.conn.isAlive())
        except libvirt.libvirtError:
            return False

    def _sync(self, hypervisor_id):
        try:
            hypervisor = Hypervisor.objects.select_related("host").filter(pk=hypervisor_id).first()
            if hypervisor is not None:
                sync_hypervisor(hypervisor)
        except Exception:  # the next event, reconnection or sweep tries again
            logger.exception("events: sync of hypervisor %s failed", hypervisor_id)

    # ----- libvirt's event-loop thread: queue only, no database, no libvirt calls ---
    def _on_lifecycle(self, conn, dom, event, detail, opaque):
        hypervisor_id, generation = opaque
        self.events.put(("lifecycle", hypervisor_id, generation, dom.UUIDString(), event, detail))

    def _on_close(self, conn, reason, opaque):
        hypervisor_id, generation = opaque
        self.events.put(("closed", hypervisor_id, generation, reason))


def _close(conn):
    try:
        conn.close()
    except libvirt.libvirtError:
        pass
