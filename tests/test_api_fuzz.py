"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis).

Every operation of /api/schema/ gets generated requests, valid and invalid, sent as an
admin through the WSGI app: no answer may be a 500, and every answer must match the
schema (documented status code, content type, headers and body). Runs on SQLite and
PostgreSQL. The estate holds an object of every kind the API names by id, and every
operation on one object is also run with an existing id, so detail, update, delete and
the actions reach the real code, not only the 404.
"""

import re
import uuid

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.urls import resolve
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode, checks

from access.models import HostKey, SSHCredential
from cloud.models import DiskReplication, InstanceType, OnPremCostModel, UtilisationRecord
from core.jobs import create_job
from health.models import (
    Alert,
    AlertTarget,
    CheckResult,
    CheckSchedule,
    FenceAttempt,
    FenceDevice,
    HostHealth,
    PortCheck,
    Recovery,
    SiteRecoveryPolicy,
)
from hypervisors.models import Hypervisor, VirtualMachine
from inventory.models import Host, Interface, JournalEntry, NamingScheme, Replacement, Role, Tag
from migrations_tool.models import Dependency, MigrationPlan, PlannedWorkload, Run, Wave
from opsconsole.wsgi import application

# Requests for the whole run, shared out over operations: the run stays under about two
# minutes however many endpoints the API grows, with at least a few cases each.
EXAMPLE_BUDGET = 1600
MIN_EXAMPLES = 3

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture
def estate(site, rack, app_role, host, embedded_account):
    """One object (at least) of every kind the API names by id."""
    now = timezone.now()
    scheme = NamingScheme.objects.create(name="Comic characters", names=["batman", "robin"])
    db_role = Role.objects.create(name="Database server", slug="db", naming_scheme=scheme, strict_naming=True)
    tag = Tag.objects.create(name="Production", slug="prod")
    batman = Host.objects.create(hostname="batman", site=site, rack=rack, position=20, role=db_role, status="spare",
                                 bmc_password="never-shown", disks=[{"name": "sda", "size_gb": 480}])
    batman.tags.add(tag)
    marvin = Host.objects.create(hostname="marvin", site=site, rack=rack, position=22, status="failed")
    Interface.objects.create(host=batman, name="eth0", mac_address="52:54:00:00:00:01", ip_address="192.0.2.1")
    JournalEntry.objects.create(host=batman, text="Racked")
    create_job("inventory.import", "Import", target=batman)
    Replacement.objects.create(failed_host=marvin, spare=batman)

    hv_host = Host.objects.create(hostname="hv1", site=site, rack=rack, position=30, status="active", cpu_cores=32,
                                  memory_mib=256 * 1024, disks=[{"name": "sda", "size_gb": 2000}])
    # port 9 on loopback: nothing answers, and nothing here may need it to (jobs never start in a test transaction)
    hypervisor = Hypervisor.objects.create(host=hv_host, uri="test+tcp://127.0.0.1:9/hv1")
    vm = VirtualMachine.objects.create(uuid=uuid.uuid4(), name="vm-app", hypervisor=hypervisor, state="running",
                                       vcpus=2, memory_mib=4096, role=app_role,
                                       disks=[{"path": "/images/vm-app.raw", "size_bytes": 20 * 1024**3}])

    HostHealth.objects.create(host=host, state="healthy", since=now)
    CheckResult.objects.create(host=host, check_type="ssh", ok=True, checked_at=now)
    HostKey.objects.create(host=host, key_type="ssh-ed25519", key="AAAAC3NzaC1lZDI1NTE5", fingerprint="SHA256:luna")
    CheckSchedule.objects.create(check_type="tcp", host=host, interval_seconds=300)
    PortCheck.objects.create(role=app_role, port=5432, label="PostgreSQL")
    SSHCredential.objects.create(name="ops")
    AlertTarget.objects.create(name="On call", kind="email", address="oncall@example.com")
    Alert.objects.create(host=host, event="failed", summary="luna failed")
    FenceDevice.objects.create(host=hv_host, agent="manual")
    FenceAttempt.objects.create(host=hv_host, agent="manual")
    Recovery.objects.create(host=hv_host)
    SiteRecoveryPolicy.objects.create(site=site)

    InstanceType.objects.create(region="us-east-1", name="t3.medium", family="t3", vcpus=2, memory_mib=4096,
                                architecture="x86_64")
    OnPremCostModel.objects.create(name="Default host", kind="host")
    UtilisationRecord.objects.create(host=host, p95_cpu_percent=20, p95_memory_percent=40, max_cpu_percent=70, days=30)
    DiskReplication.objects.create(account=embedded_account, source_path="/images/vm-app.raw", size_bytes=20 * 1024**3)

    plan = MigrationPlan.objects.create(name="Leave the DC", account=embedded_account)
    wave = Wave.objects.create(plan=plan, number=1)
    PlannedWorkload.objects.create(plan=plan, wave=wave, name="luna", host=host)
    PlannedWorkload.objects.create(plan=plan, wave=wave, name="vm-app", vm=vm)
    Run.objects.create(plan=plan, wave=wave)
    Dependency.objects.create(source_host=host, target_vm=vm, description="PostgreSQL on 5432")


def existing_id(operation):
    """(path parameter, id of an existing object) for an operation on one object, else None."""
    names = re.findall(r"{(\w+)}", operation.path)
    if not names:
        return None
    assert len(names) == 1, operation.path
    viewset = resolve(operation.path.replace(f"{{{names[0]}}}", "1")).func.cls
    newest = viewset.queryset.model._default_manager.order_by("-pk").first()
    return names[0], newest.pk if newest else None


@pytest.fixture
def admin_headers(admin_user):
    return {"Authorization": f"Token {Token.objects.create(user=admin_user).key}"}


@pytest.fixture
def keep_test_connection():
    """Like Django's test client: requests must not close the connection that holds the
    test's transaction (the WSGI handler does so at every request start and end)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(keep_test_connection, estate, admin_headers):
    return schemathesis.openapi.from_wsgi(
        "/api/schema/", application, headers={**admin_headers, "Accept": "application/vnd.oai.openapi+json"}
    )


def can_be_made_invalid(operation, fixed):
    """Whether invalid requests can be generated: a query parameter, a body or a path parameter
    that is not fixed. (Hypothesis takes a second or two to find out that it cannot: most of
    the run, with an existing id for every operation on one object.)"""
    free_path_parameters = len(operation.path_parameters) - len(fixed.get("path_parameters", {}))
    return bool(len(operation.query) or len(operation.body) or free_path_parameters)


def fuzz(operation, admin_headers, max_examples, **fixed):
    """Send generated requests for one operation (valid ones, then invalid ones); raise on
    the first answer that breaks a check, after Hypothesis shrank it to a minimal case."""
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if can_be_made_invalid(operation, fixed) else (
            GenerationMode.POSITIVE,):

        @settings(max_examples=max_examples, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode, **fixed))
        def run(case):
            # a savepoint per request, as autocommit would give (a database error in one
            # request must not poison the test transaction for all the others), rolled
            # back: every case finds the estate whole, whatever the one before deleted
            with transaction.atomic():
                case.call_and_validate(headers=admin_headers, checks=CHECKS)
                transaction.set_rollback(True)

        try:
            run()
        except Unsatisfiable:
            # nothing left to make invalid (e.g. a fixed id and no body): no negative cases
            if mode is GenerationMode.POSITIVE:
                raise


@pytest.mark.fuzz
def test_api_answers_as_its_schema_says(api_schema, estate, admin_headers):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 40  # the whole API, not an empty schema
    on_one_object = {operation.label: existing_id(operation) for operation in operations}
    # a kind the estate lacks would be fuzzed with 404s only
    assert [label for label, found in on_one_object.items() if found and found[1] is None] == []
    runs = []
    for operation in operations:
        runs.append((operation, {}))
        if on_one_object[operation.label]:
            # random ids mostly miss; an existing object reaches update, delete and the actions for real
            name, pk = on_one_object[operation.label]
            runs.append((operation, {"path_parameters": {name: pk}}))
    max_examples = max(MIN_EXAMPLES, EXAMPLE_BUDGET // (2 * len(runs)))  # 2 generation modes
    failures = []
    for operation, fixed in runs:
        try:
            fuzz(operation, admin_headers, max_examples, **fixed)
        except (Exception, BaseExceptionGroup) as exc:  # collect all: one run shows every broken operation
            failures.append(f"{operation.label} {fixed or ''}\n{exc}")
    assert not failures, "\n\n".join(failures)
