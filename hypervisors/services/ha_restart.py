"""HA restart: after its hypervisor was fenced, start each HA VM again on a healthy or
spare hypervisor of the same site chosen by the placement planner (disks on shared
storage), one child job per VM.

It lives with the other VM operations (define, start, migrate) because everything it
does is libvirt work on VMs; deciding *when* it is safe (fencing, evidence, site policy)
is the health app's job (health/services/recovery.py), which calls in here.

Never twice: the caller fences first; each VM's job then asks libvirt on every other
hypervisor of the site whether the VM already runs there (a retried job) before it
defines and starts it on its target; and the lab's virtlockd refuses a second QEMU on
the same disk. The dead hypervisor's own definition is left alone (libvirt there is
unreachable); our records follow what libvirt reports on the target.
"""

from xml.sax.saxutils import escape, quoteattr

from django.db.models import Q
from django.utils import timezone

from core.jobs import create_job
from core.models import Job

from ..drivers import libvirt_driver as driver
from ..drivers.libvirt_driver import libvirt
from ..models import Hypervisor, VirtualMachine
from ..placement import PACK, plan_placement
from .capacity import candidates_for, demand_of
from .locks import vm_lock
from .maintenance import run_children

CHILD_KIND = "hypervisors.ha_restart_vm"
# What a VM of a dead host may have been doing; deliberately shut-off or gone VMs stay as they are.
WAS_UP = Q(state__in=[VirtualMachine.State.RUNNING, VirtualMachine.State.PAUSED, VirtualMachine.State.BLOCKED,
                      VirtualMachine.State.UNKNOWN, VirtualMachine.State.CRASHED, VirtualMachine.State.SHUTDOWN])


class RestartFailed(Exception):
    pass


def ha_vms(hypervisor: Hypervisor):
    return hypervisor.vms.filter(WAS_UP, ha_enabled=True).order_by("name")


def restart_plan(hypervisor: Hypervisor, policy=PACK):
    """Where each HA VM of the (dead) hypervisor would be started; the ones that cannot be
    placed, with the reason. Spares first by default (policy "pack"), keeping the active
    hosts' headroom. Touches nothing: also the "what if it died now" answer."""
    vms = list(ha_vms(hypervisor))
    candidates = candidates_for(hypervisor)
    plan = plan_placement([demand_of(vm) for vm in vms], candidates, policy)
    names = dict(Hypervisor.objects.filter(pk__in=[c.key for c in candidates]).values_list("pk", "host__hostname"))
    unshared = [] if hypervisor.shared_storage else vms
    return {
        "moves": [{"vm_id": vm.pk, "vm": vm.name, "target_id": plan.assignments[vm.pk],
                   "target": names[plan.assignments[vm.pk]]}
                  for vm in vms if vm.pk in plan.assignments and not unshared],
        "unplaced": [{"vm_id": vm.pk, "vm": vm.name,
                      "reason": f"its disks are not on shared storage ({hypervisor.name} has none)" if unshared
                      else plan.unplaced[vm.pk]}
                     for vm in vms if unshared or vm.pk in plan.unplaced],
    }


def restart_ha_vms(hypervisor: Hypervisor, job, recorder, user=None, parallel=2, policy=PACK):
    """Start the (fenced) hypervisor's HA VMs elsewhere, one child job per VM; the VMs left
    on it are recorded as shut off (their host is off). Returns what was restarted where and what
    could not be placed, and why."""
    plan = restart_plan(hypervisor, policy)
    for item in plan["unplaced"]:
        recorder.log(f"Cannot place {item['vm']}: {item['reason']}")
    left_off = list(hypervisor.vms.filter(WAS_UP, ha_enabled=False).values_list("name", flat=True))
    if left_off:
        recorder.log(f"Not HA, left shut off on {hypervisor.name}: {', '.join(left_off)}")
    recorder.log(f"Restarting {len(plan['moves'])} HA VMs of {hypervisor.name}, {parallel} at a time: "
                 + (", ".join(f"{m['vm']} → {m['target']}" for m in plan["moves"]) or "none"))
    children = [
        create_job(CHILD_KIND, f"Restart {m['vm']} on {m['target']}", user=user, parent=job,
                   params={"vm_id": m["vm_id"], "target_id": m["target_id"], "dead_id": hypervisor.pk})
        for m in plan["moves"]
    ]
    if children:
        run_children(children, parallel, recorder, work=restart_child, noun="HA restarts")
    # Whatever is still recorded on the fenced hypervisor went off with it (not HA, not
    # placed, or its restart failed).
    hypervisor.vms.filter(WAS_UP).update(state=VirtualMachine.State.SHUTOFF, state_changed_at=timezone.now())
    finished = {c.pk: c for c in Job.objects.filter(pk__in=[c.pk for c in children])}
    restarted, failed = [], []
    for child, move in zip(children, plan["moves"], strict=True):
        done = finished[child.pk]
        if done.state == Job.State.SUCCEEDED:
            restarted.append({"vm": move["vm"], "on": (done.result or {}).get("on", move["target"]), "job": done.pk})
        else:
            failed.append({"vm": move["vm"], "target": move["target"], "job": done.pk, "reason": done.message})
    return {"restarted": restarted, "failed": failed, "unplaced": plan["unplaced"], "left_off": left_off}


def restart_child(job, recorder):
    vm = VirtualMachine.objects.select_related("hypervisor__host").get(pk=job.params["vm_id"])
    target = Hypervisor.objects.select_related("host").get(pk=job.params["target_id"])
    dead = Hypervisor.objects.select_related("host").get(pk=job.params["dead_id"])
    return restart_vm(vm, dead, target, job, recorder)


def restart_vm(vm, dead: Hypervisor, target: Hypervisor, job, recorder):
    """Define (if needed) and start `vm` on `target`, unless libvirt already runs it
    somewhere other than the dead hypervisor (then record that and start nothing)."""
    with vm_lock(vm, job):
        recorder.progress(10, f"Looking for {vm.name} on the other hypervisors of the site")
        running = running_elsewhere(vm, dead)
        if running:
            _record(vm, running[0])
            recorder.log(f"{vm.name} already runs on {running[0].name} (libvirt says so): not started again")
            return {"vm": vm.name, "on": running[0].name, "started": False}
        conn = driver.connect(target.uri)
        dom = driver.lookup(conn, vm.uuid)
        if dom is None:
            recorder.progress(40, f"Defining {vm.name} on {target.name}")
            dom = conn.defineXML(definition_xml(vm, domain_type(conn)))
            recorder.log(f"Defined {vm.name} on {target.name} ({vm.vcpus} vCPUs, {vm.memory_mib} MiB, "
                         f"{len(vm.disks)} disks from shared storage)")
        recorder.progress(70, f"Starting {vm.name} on {target.name}")
        try:
            dom.create()
        except libvirt.libvirtError as exc:
            raise RestartFailed(f"libvirt on {target.name} refused to start {vm.name}: {exc}") from exc
        if not dom.isActive():
            raise RestartFailed(f"{vm.name} did not start on {target.name}")
        _record(vm, target)
        recorder.log(f"{vm.name} runs on {target.name} (checked with libvirt)")
    return {"vm": vm.name, "on": target.name, "started": True}


def running_elsewhere(vm, dead: Hypervisor):
    """The hypervisors of the site (except the dead one) on which libvirt runs the VM;
    unreachable ones are skipped (they could not be running a new copy we started)."""
    found = []
    for hypervisor in Hypervisor.objects.filter(host__site=dead.host.site_id, enabled=True).exclude(pk=dead.pk) \
            .select_related("host"):
        try:
            dom = driver.lookup(driver.connect(hypervisor.uri), vm.uuid)
        except (driver.HypervisorUnreachable, libvirt.libvirtError):
            continue
        if dom is not None and dom.isActive():
            found.append(hypervisor)
    return found


def _record(vm, hypervisor):
    now = timezone.now()
    VirtualMachine.objects.filter(pk=vm.pk).update(hypervisor=hypervisor, state=VirtualMachine.State.RUNNING,
                                                   last_seen=now, state_changed_at=now)


def domain_type(conn):
    """kvm where the target can, qemu (TCG) otherwise (the lab)."""
    return "kvm" if "<domain type='kvm'" in conn.getCapabilities() else "qemu"


def definition_xml(vm, dom_type="qemu"):
    """The VM's definition rebuilt from what the sync recorded (identity, size, disks on
    shared storage, NICs with their MACs): the dead host's own copy is out of reach."""
    disks = "".join(
        f"<disk type='file' device='disk'><driver name='qemu' type={quoteattr(d.get('format') or 'raw')}/>"
        f"<source file={quoteattr(d['path'])}/><target dev={quoteattr(d.get('target') or f'vd{chr(97 + i)}')} "
        "bus='virtio'/></disk>"
        for i, d in enumerate(disk for disk in vm.disks if disk.get("path"))
    )
    nics = "".join(
        f"<interface type={quoteattr(n['type'])}><mac address={quoteattr(n['mac'])}/>"
        f"<source {n['type']}={quoteattr(n['network'])}/><model type='virtio'/></interface>"
        for n in vm.nics if n.get("type") in ("network", "bridge") and n.get("network")
    )
    return (
        f"<domain type='{dom_type}'><name>{escape(vm.name)}</name><uuid>{vm.uuid}</uuid>"
        f"<memory unit='MiB'>{int(vm.memory_mib)}</memory><vcpu>{int(vm.vcpus)}</vcpu>"
        "<os><type arch='x86_64' machine='pc'>hvm</type></os><on_crash>destroy</on_crash>"
        f"<devices>{disks}{nics}<graphics type='vnc' listen='127.0.0.1' autoport='yes'/></devices></domain>"
    )
