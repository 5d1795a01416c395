"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis).

Every operation of /api/schema/ gets generated requests, valid and invalid, sent as an
admin through the WSGI app: no answer may be a 500, and every answer must match the
schema (documented status code, content type, headers and body). Path ids are drawn
partly from objects that exist, so detail, update and delete reach the real code.
"""

import pytest
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from rest_framework.authtoken.models import Token
from schemathesis import checks

from core.jobs import create_job
from inventory.models import Host, Interface, JournalEntry, NamingScheme, Role, Tag
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
def estate(site, rack, app_role, host):
    """A little of everything, so that path ids can point at real objects."""
    scheme = NamingScheme.objects.create(name="Comic characters", names=["batman", "robin"])
    db_role = Role.objects.create(name="Database server", slug="db", naming_scheme=scheme, strict_naming=True)
    tag = Tag.objects.create(name="Production", slug="prod")
    batman = Host.objects.create(hostname="batman", site=site, rack=rack, position=20, role=db_role, status="spare",
                                 bmc_password="never-shown", disks=[{"name": "sda", "size_gb": 480}])
    batman.tags.add(tag)
    interface = Interface.objects.create(host=batman, name="eth0", mac_address="52:54:00:00:00:01",
                                         ip_address="192.0.2.1")
    entry = JournalEntry.objects.create(host=batman, text="Racked")
    job = create_job("inventory.import", "Import", target=batman)
    return {
        "/api/inventory/hosts/": [host.pk, batman.pk],
        "/api/inventory/sites/": [site.pk],
        "/api/inventory/racks/": [rack.pk],
        "/api/inventory/roles/": [app_role.pk, db_role.pk],
        "/api/inventory/naming-schemes/": [scheme.pk],
        "/api/inventory/tags/": [tag.pk],
        "/api/inventory/interfaces/": [interface.pk],
        "/api/inventory/journal/": [entry.pk],
        "/api/jobs/": [job.pk],
    }


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


def fuzz(operation, admin_headers, max_examples, **fixed):
    """Send generated requests for one operation (valid ones, then invalid ones); raise on
    the first answer that breaks a check, after Hypothesis shrank it to a minimal case."""
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @settings(max_examples=max_examples, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode, **fixed))
        def run(case):
            # a savepoint per request, as autocommit would give: a database error in one
            # request must not poison the test transaction for all the others
            with transaction.atomic():
                case.call_and_validate(headers=admin_headers, checks=CHECKS)

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
    runs = []
    for operation in operations:
        existing = next((ids for prefix, ids in estate.items() if operation.path.startswith(prefix)), [])
        runs.append((operation, {}))
        if "{id}" in operation.path and existing:
            # random ids mostly miss; one existing object reaches update and delete for real
            runs.append((operation, {"path_parameters": {"id": existing[-1]}}))
    max_examples = max(MIN_EXAMPLES, EXAMPLE_BUDGET // (2 * len(runs)))  # 2 generation modes
    failures = []
    for operation, fixed in runs:
        try:
            fuzz(operation, admin_headers, max_examples, **fixed)
        except (Exception, BaseExceptionGroup) as exc:  # collect all: one run shows every broken operation
            failures.append(f"{operation.label} {fixed or ''}\n{exc}")
    assert not failures, "\n\n".join(failures)
