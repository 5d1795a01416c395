"""Plans: made from an assessment, changed by the operator, checked before a run.

    plan = create_plan("Cloud wave 1", assessment, user=request.user, account=account)
    change_workload(planned, strategy="rehost-ec2", instance_type="m7i.large")
    problems = readiness(plan)     # what stops the plan from starting, in words (the plan itself)
    problems = problems_of(plan)   # that, and what the cloud and the sources lack (asks them)
    delete_plan(plan, user=request.user)  # refused while one of its runs is in progress
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from cloud.services.prices import NoPriceTable, price_table
from cloud.services.workloads import Workload
from core.actions import action
from core.roles import model_role
from hypervisors.models import Hypervisor, VirtualMachine
from hypervisors.services.disk_sources import DiskSourceError

from ..models import MigrationPlan, PlannedWorkload, Run, Strategy
from ..source_dsn import parse_source_dsn
from . import checks
from . import waves as wave_service
from .assessment import aws_monthly_of

CLOUD_STRATEGIES = (Strategy.REHOST_EC2, Strategy.REPLATFORM_RDS)


@transaction.atomic
def create_plan(name, assessment, user=None, account=None, description=""):
    """A draft plan holding every assessed workload (with its suggested strategy), in
    waves made from the recorded dependencies."""
    plan = MigrationPlan.objects.create(name=name, description=description, account=account,
                                        created_by=user if user and user.is_authenticated else None)
    PlannedWorkload.objects.bulk_create([planned_from(plan, item) for item in assessment.items], batch_size=500)
    wave_service.apply_waves(plan)
    return plan


@action(model_role(MigrationPlan, "delete"), "deleting a migration plan")
def delete_plan(plan, *, user):
    """Delete the plan with its waves, workloads and finished runs; refused (a sentence)
    while one of its runs is going, paused or waiting for cutover: cancel it first."""
    if plan.runs.filter(state__in=Run.OPEN_STATES).exists():
        raise ValidationError(f"Plan {plan.name} has a run in progress: cancel it first.")
    plan.delete()


def planned_from(plan, item):
    workload = item.workload
    return PlannedWorkload(
        plan=plan, host_id=workload.id if workload.kind == "host" else None,
        vm_id=workload.id if workload.kind == "vm" else None, name=workload.name,
        strategy=item.strategy, suggested_strategy=item.strategy, reason=item.reason, basis=item.basis,
        utilisation_source=item.utilisation_source, required_vcpus=item.required_vcpus,
        required_memory_mib=item.required_memory_mib, instance_type=item.instance_type or "",
        rds_class=item.rds_class or "", engine=item.engine, multi_az=item.multi_az, storage_gb=item.storage_gb,
        onprem_monthly=item.onprem_monthly, aws_monthly=item.aws_monthly, dns_name=workload.name,
    )


def as_workload(planned):
    """The cloud Workload of a planned one, enough for costing (disk and kind)."""
    return Workload(kind=planned.kind, id=planned.vm_id or planned.host_id, name=planned.name, vcpus=0,
                    memory_mib=0, disk_gb=planned.storage_gb)


def change_workload(planned, **changes):
    """Change a planned workload's strategy and targets; the AWS cost follows. Raises
    ValidationError (by field) for a choice that cannot work."""
    for name, value in changes.items():
        setattr(planned, name, value)
    errors = choice_errors(planned)
    if changes.get("disk"):
        errors.update(disk_errors(planned))
    if errors:
        raise ValidationError(errors)
    if planned.strategy in (*CLOUD_STRATEGIES, Strategy.RETIRE):
        region = planned.plan.account.region if planned.plan.account_id else "us-east-1"
        try:
            prices = price_table(region)
        except NoPriceTable as exc:
            raise ValidationError({"strategy": str(exc)}) from exc
        planned.aws_monthly = aws_monthly_of(planned.strategy, as_workload(planned), planned.instance_type,
                                             planned.rds_class, planned.engine, planned.multi_az, prices)
    planned.save()
    return planned


def disk_errors(planned):
    """{"disk": message} unless the chosen disk is one of the workload's real disks, asked
    of the system it lives on (libvirt, lsblk over SSH) or an image under a declared root."""
    try:
        checks.check_workload_disk(planned, planned.disk)
    except DiskSourceError as exc:
        return {"disk": str(exc)}
    return {}


def choice_errors(planned):
    """{field: message} for a strategy and target that cannot work."""
    errors = {}
    if planned.wave_id is not None and planned.wave.plan_id != planned.plan_id:
        errors["wave"] = "That wave belongs to another plan."
    strategy = planned.strategy
    if strategy not in Strategy.values:
        return {**errors, "strategy": f"Unknown strategy {strategy!r}."}
    if strategy == Strategy.REHOST_EC2 and not planned.instance_type:
        errors["instance_type"] = "Rehosting to EC2 needs an instance type."
    if strategy == Strategy.REPLATFORM_RDS:
        if not planned.rds_class:
            errors["rds_class"] = "Replatforming to RDS needs an RDS class."
        if planned.engine not in ("postgres", "mysql"):
            errors["engine"] = "Choose the database engine: postgres or mysql."
    if strategy == Strategy.REHOST_HYPERVISOR:
        if not planned.vm_id:
            errors["strategy"] = "Only a VM can move to another hypervisor (virtualise the host first)."
        elif planned.target_hypervisor_id and planned.target_hypervisor_id == VirtualMachine.objects.filter(
                pk=planned.vm_id).values_list("hypervisor_id", flat=True).first():
            errors["target_hypervisor"] = "The VM already runs there: choose another hypervisor."
    if strategy in CLOUD_STRATEGIES or strategy == Strategy.RETIRE:
        region = planned.plan.account.region if planned.plan.account_id else "us-east-1"
        try:
            prices = price_table(region)
        except NoPriceTable as exc:
            return {"strategy": str(exc)}
        if strategy == Strategy.REHOST_EC2 and planned.instance_type and planned.instance_type not in prices.ec2:
            errors["instance_type"] = f"{planned.instance_type} has no price in {region}: choose another type."
        if strategy == Strategy.REPLATFORM_RDS and planned.rds_class and \
                prices.rds_price(planned.engine, planned.rds_class) is None:
            errors["rds_class"] = f"{planned.rds_class} ({planned.engine}) has no price in {region}."
    return errors


def readiness(plan):
    """What stops the plan from starting, in words (empty: it can start)."""
    problems = []
    workloads = list(plan.workloads.select_related("plan__account", "wave"))
    moving = [w for w in workloads if w.strategy not in (Strategy.RETAIN, Strategy.RETIRE)]
    if not moving:
        problems.append("Nothing moves: every workload is retained or retired.")
    if any(w.strategy in CLOUD_STRATEGIES for w in moving) and not plan.account_id:
        problems.append("Workloads go to AWS: choose the cloud account.")
    for w in moving:
        for message in choice_errors(w).values():
            problems.append(f"{w.name}: {message}")
        if w.strategy == Strategy.REPLATFORM_RDS:
            problems.extend(f"{w.name}: {problem}" for problem in source_dsn_problems(w.source_dsn))
        if w.wave_id is None:
            problems.append(f"{w.name} is in no wave.")
    problems.extend(wave_service.violations(plan))
    return problems


def source_dsn_problems(dsn):
    """What is wrong with a stored source DSN (one saved before the DSN rules were never checked)."""
    if not dsn:
        return ["give the source database DSN to copy the data from."]
    try:
        parse_source_dsn(dsn)
    except ValidationError as exc:
        return [f"the source database DSN is refused: {' '.join(exc.messages)}"]
    return []


def problems_of(plan, ask_cloud=True):
    """Everything that stops the plan from starting: its own gaps (readiness) and, with
    ask_cloud, what its run would not find in the cloud or at its sources (checks)."""
    problems = readiness(plan)
    if ask_cloud:
        problems += checks.target_problems(plan)
    return problems


def hypervisor_choices(exclude_id=None):
    return Hypervisor.objects.select_related("host").filter(enabled=True).exclude(pk=exclude_id)


def review(plan, ask_cloud=True):
    """Everything that will happen, in order, with the monthly cost before and after, and
    what stops it (problems_of; ask_cloud=False for the costs alone, without asking AWS)."""
    from .executors import ACTION_STEPS, STEPS, TITLES
    from .waves import ordered_workloads

    before = after = Decimal("0")
    happenings = []
    for w in ordered_workloads(plan):
        before += w.onprem_monthly or 0
        after += w.monthly_after or 0
        later = [TITLES[kind] for action in ("test_cutover", "cutover") for kind in ACTION_STEPS[action].get(w.strategy, [])]
        happenings.append({
            "wave": w.wave.number if w.wave_id else None, "workload": w.id, "name": w.name, "strategy": w.strategy,
            "strategy_label": w.get_strategy_display(), "target": w.target_label,
            "steps": [TITLES[kind] for kind in STEPS.get(w.strategy, [])], "on_request": later,
            "monthly_before": w.onprem_monthly, "monthly_after": w.monthly_after,
        })
    return {"problems": problems_of(plan, ask_cloud), "onprem_monthly": before, "monthly_after": after,
            "steps": happenings}
