"""What a run will use, asked for before it starts: the cloud targets (subnet, security
group, key pair, DNS zone, each instance type in the region) and the sources (the
workload's disk, read where it lives, and a source database that answers). The review shows these problems and
start_run refuses with them, so a plan that reviews green does not fail later on a name
the cloud never had.

    problems = target_problems(plan)   # one sentence per problem, [] when all is there
    ref = disk_ref_of(workload)        # the disk an EC2 rehost replicates (a DiskRef), or None
    choices, problem = workload_disks(workload)   # what the plan may choose from, asked live
"""

from cloud.services import rds_replatform, replication
from cloud.services.targets import target_problems as cloud_target_problems
from hypervisors.services import disk_sources
from hypervisors.services.disk_sources import DiskRef, DiskSourceError

from ..models import Strategy


def target_problems(plan):
    """Sentences saying what the plan's run would not find (empty: everything answers)."""
    workloads = list(plan.workloads.select_related("vm__hypervisor__host", "host"))
    ec2 = [w for w in workloads if w.strategy == Strategy.REHOST_EC2]
    rds = [w for w in workloads if w.strategy == Strategy.REPLATFORM_RDS]
    problems = []
    if plan.account_id and (ec2 or rds):
        named = any(w.dns_name for w in ec2 + rds)
        problems += cloud_target_problems(
            plan.account, subnet=plan.target_subnet if ec2 else "",
            security_group=plan.target_security_group if ec2 else "", key_pair=plan.target_key_pair if ec2 else "",
            instance_types=[w.instance_type for w in ec2 if w.instance_type],
            dns_zone=plan.dns_zone if named else "")
    for workload in ec2:
        problem = disk_problem(workload)
        if problem:
            problems.append(f"{workload.name}: {problem}")
    for workload in rds:
        if not workload.source_dsn:
            continue  # plans.readiness asks for it
        problem = rds_replatform.source_problem(workload.source_dsn, workload.engine)
        if problem:
            problems.append(f"{workload.name}: {problem}")
    return problems


def disk_ref_of(workload):
    """The DiskRef a rehost to EC2 reads: the disk the plan names (a VM's disk target, a
    host's device, or an image path under a declared root), else the VM's first disk; None
    for a host whose disk nobody chose yet."""
    if workload.disk.startswith("/"):
        return DiskRef.for_image(workload.disk)
    if workload.vm_id:
        targets = [d.get("target") for d in workload.vm.disks or [] if isinstance(d, dict) and d.get("target")]
        chosen = workload.disk or (targets[0] if targets else "")
        return DiskRef.for_vm(workload.vm, chosen) if chosen else None
    if workload.host_id and workload.disk:
        return DiskRef.for_host(workload.host, workload.disk)
    return None


def workload_disks(workload):
    """([DiskChoice], problem) the workload's disk can be chosen from, asked of the real
    system (libvirt for a VM, lsblk over SSH for a host; images under declared roots too).
    problem: a sentence when the workload's own disks could not be listed, else None."""
    problem, choices = None, []
    try:
        choices = disk_sources.available_disks(vm=workload.vm) if workload.vm_id else \
            disk_sources.available_disks(host=workload.host)
    except DiskSourceError as exc:
        problem = str(exc)
    try:
        choices += disk_sources.available_disks()
    except DiskSourceError:
        pass
    return choices, problem


def check_workload_disk(workload, value):
    """`value` if it names one of the workload's real disks (or an image under a declared
    root); DiskSourceError otherwise (a field error for the form and the API)."""
    if value.startswith("/"):
        disk_sources.check_disk(DiskRef.for_image(value))
    elif workload.vm_id:
        disk_sources.check_disk(DiskRef.for_vm(workload.vm, value))
    else:
        disk_sources.check_disk(DiskRef.for_host(workload.host, value))
    return value


def disk_problem(workload):
    """Why the workload's disk cannot be replicated, in a sentence; None when it can."""
    ref = disk_ref_of(workload)
    if ref is None:
        owner = workload.vm or workload.host
        return f"no disk chosen: choose one of {owner}'s disks in the plan."
    return replication.disk_problem(ref)
