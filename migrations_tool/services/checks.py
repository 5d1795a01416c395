"""What a run will use, asked for before it starts: the cloud targets (subnet, security
group, key pair, DNS zone, each instance type in the region) and the sources (a disk image
the worker can read, a source database that answers). The review shows these problems and
start_run refuses with them, so a plan that reviews green does not fail later on a name
the cloud never had.

    problems = target_problems(plan)   # one sentence per problem, [] when all is there
    path = disk_path_of(workload)      # the image an EC2 rehost replicates, or None
"""

from cloud.services import rds_replatform, replication
from cloud.services.targets import target_problems as cloud_target_problems

from ..models import Strategy


def target_problems(plan):
    """Sentences saying what the plan's run would not find (empty: everything answers)."""
    workloads = list(plan.workloads.select_related("vm"))
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


def disk_paths_known(workload):
    """The disk images the product knows for the workload's VM (from its hypervisor's sync)."""
    if not workload.vm_id:
        return []
    return [disk["path"] for disk in workload.vm.disks or [] if isinstance(disk, dict) and disk.get("path")]


def disk_path_of(workload):
    """The image a rehost to EC2 replicates: the one the plan names, else the VM's first disk."""
    if workload.disk_path:
        return workload.disk_path
    known = disk_paths_known(workload)
    return known[0] if known else None


def disk_problem(workload):
    """Why the workload's disk cannot be replicated, in a sentence; None when it can."""
    path = disk_path_of(workload)
    if path is None:
        return "no disk image to replicate: give its disk path in the plan."
    known = disk_paths_known(workload)
    if workload.vm_id and path not in known:
        listed = ", ".join(known) or "none (sync its hypervisor)"
        return f"{path} is not one of the VM's disks ({listed}): choose one of them."
    return replication.disk_problem(path)
