"""Who may do what, for every URL the console and the API serve, as five identities:
anonymous, logged in without a role, viewer, operator, admin.

The URLs come from the resolver, so a new URL without a row in RULES fails
`test_every_url_has_a_rule`. Each row says which role each method needs; the test then
asks every identity: below the role it must be refused (the login page for an anonymous
visitor of the console, 401 from the API, 403 otherwise), at or above it must not be
(and never a 500). Ids in URLs are ones no object has: the role is checked before the
object is looked up, so an identity below the role learns nothing of what exists.
"""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from tests.conftest import make_user, token_client

MISSING_ID = "987654321"
IDENTITIES = ["anonymous", "nobody", "viewer", "operator", "admin"]
RANK = {"viewer": 1, "operator": 2, "admin": 3}
V, OP, A = "viewer", "operator", "admin"
PUBLIC = "public"  # anyone, even anonymous (the login page)
SIGNED_IN = "signed-in"  # any logged-in user, with or without a role
NOBODY = "nobody"  # not served to anyone, whatever the role (405 at best)

# URL name -> {method: role}. API detail routes list PUT/PATCH/DELETE as they serve them.
RULES = {
    # --- authentication and the front page ---------------------------------------------
    "login": {"GET": PUBLIC, "POST": PUBLIC},
    "logout": {"POST": SIGNED_IN},
    "dashboard": {"GET": V},
    "dashboard_jobs": {"GET": V},
    "job_list": {"GET": V},
    "job_detail": {"GET": V},
    "job_progress": {"GET": V},
    "job_cancel": {"POST": OP},
    "changelog": {"GET": V},
    "metrics": {"GET": PUBLIC},  # its own rule: loopback or the bearer token (tests/health/test_prometheus.py)
    # --- inventory -------------------------------------------------------------------------
    "inventory:index": {"GET": SIGNED_IN},  # a redirect to the host list, which checks the role
    "inventory:host_list": {"GET": V},
    "inventory:host_add": {"GET": OP, "POST": OP},
    "inventory:host_detail": {"GET": V},
    "inventory:host_edit": {"GET": OP, "POST": OP},
    "inventory:host_delete": {"GET": A, "POST": A},
    "inventory:host_status": {"POST": OP},
    "inventory:host_journal": {"POST": OP},
    "inventory:host_repaired": {"POST": OP},
    "inventory:host_name_hint": {"GET": OP},
    "inventory:host_suggest_name": {"GET": OP},
    "inventory:host_import": {"GET": OP, "POST": OP},
    "inventory:host_import_template": {"GET": V},
    "inventory:host_export": {"GET": V},
    "inventory:host_replace": {"POST": OP},
    "inventory:host_replacement_card": {"GET": V},
    "inventory:replacement_list": {"GET": V},
    "inventory:replacement_detail": {"GET": V},
    "inventory:replacement_confirm": {"POST": OP},
    "inventory:replacement_replan": {"POST": OP},
    "inventory:replacement_cancel": {"POST": OP},
    "inventory:site_list": {"GET": V},
    "inventory:site_detail": {"GET": V},
    "inventory:rack_detail": {"GET": V},
    "inventory:role_list": {"GET": V},
    **{f"inventory:{model}_{op}": {"GET": A, "POST": A}
       for model in ("site", "rack", "role", "namingscheme", "tag") for op in ("add", "edit", "delete")},
    # --- hypervisors -----------------------------------------------------------------------
    "hypervisors:hypervisor_list": {"GET": V},
    "hypervisors:hypervisor_detail": {"GET": V},
    "hypervisors:hypervisor_maintenance": {"GET": V},
    "hypervisors:hypervisor_what_if": {"GET": V},
    "hypervisors:rack_what_if": {"GET": V},
    "hypervisors:sync_all": {"POST": OP},
    "hypervisors:hypervisor_sync": {"POST": OP},
    "hypervisors:evacuation_plan": {"GET": V, "POST": OP},
    "hypervisors:leave_maintenance": {"POST": OP},
    "hypervisors:vm_list": {"GET": V},
    "hypervisors:vm_detail": {"GET": V, "POST": OP},
    "hypervisors:vm_create": {"GET": OP, "POST": OP},
    "hypervisors:vm_suggest_name": {"GET": OP},
    "hypervisors:vm_power": {"POST": OP},
    "hypervisors:vm_migrate": {"GET": OP, "POST": OP},
    "hypervisors:vm_resize": {"GET": OP, "POST": OP},
    "hypervisors:vm_forget": {"GET": OP, "POST": OP},
    "hypervisors:vm_delete": {"GET": A, "POST": A},
    # --- health ----------------------------------------------------------------------------
    "health:dashboard": {"GET": V},
    "health:failing_now": {"GET": V},
    "health:check_all": {"POST": OP},
    "health:host": {"GET": V},
    "health:host_panel": {"GET": V},
    "health:host_check": {"POST": OP},
    "health:recover": {"POST": OP},
    "health:recoveries": {"GET": V},
    "health:recovery_detail": {"GET": V},
    "health:recovery_progress": {"GET": V},
    "health:recovery_dismiss": {"POST": OP},
    "health:alerts": {"GET": V},
    "health:settings": {"GET": V},
    "access:host_keys": {"GET": V},
    "access:host_key_add": {"POST": A},
    "access:host_key_trust": {"POST": A},
    "access:hostkey_delete": {"GET": A, "POST": A},
    "health:fencedevice_edit": {"GET": A, "POST": A},
    "health:recovery_policy": {"POST": A},
    **{f"health:{model}_{op}": {"GET": A, "POST": A}
       for model in ("checkschedule", "portcheck", "sshcredential", "alerttarget") for op in ("add", "edit", "delete")},
    # --- cloud -----------------------------------------------------------------------------
    "cloud:cloudaccount_list": {"GET": V},
    "cloud:cloudaccount_detail": {"GET": V},
    "cloud:cloudaccount_status": {"GET": V},
    "cloud:cloudaccount_test": {"POST": OP},
    "cloud:cloudaccount_refresh": {"POST": OP},
    "cloud:sizing": {"GET": V},
    "cloud:cost_settings": {"GET": V},
    "cloud:prices": {"GET": V},
    "cloud:instance_types": {"GET": V},
    "cloud:sizingpolicy_edit": {"GET": A, "POST": A},
    **{f"cloud:{model}_{op}": {"GET": A, "POST": A}
       for model in ("cloudaccount", "onpremcostmodel") for op in ("add", "edit", "delete")},
    # --- migrations ------------------------------------------------------------------------
    "migrations_tool:migrationplan_list": {"GET": V},
    "migrations_tool:migrationplan_add": {"GET": OP, "POST": OP},
    "migrations_tool:migrationplan_delete": {"GET": OP, "POST": OP},
    "migrations_tool:plan_assessment": {"GET": V, "POST": OP},
    "migrations_tool:plan_waves": {"GET": V, "POST": OP},
    "migrations_tool:plan_targets": {"GET": V, "POST": OP},
    "migrations_tool:plan_review": {"GET": V, "POST": OP},
    "migrations_tool:run_detail": {"GET": V},
    "migrations_tool:run_status": {"GET": V},
    "migrations_tool:run_control": {"POST": OP},
    "migrations_tool:host_card": {"GET": V},
    # --- the API ---------------------------------------------------------------------------
    "schema": {"GET": V},
    "api-docs": {"GET": V},
    "api-redoc": {"GET": V},
    "current-user": {"GET": V},
    "job-list": {"GET": V},
    "job-detail": {"GET": V},
    "job-cancel": {"POST": OP},
    "changelog-list": {"GET": V},
    "changelog-detail": {"GET": V},
    "ansible-inventory": {"GET": V},
    "host-import": {"POST": OP},
    "host-export": {"GET": V},
    "host-list": {"GET": V, "POST": OP, "PATCH": OP},
    "host-detail": {"GET": V, "PUT": OP, "PATCH": OP, "DELETE": A},
    "host-repaired": {"POST": OP},
    "interface-list": {"GET": V, "POST": OP},
    "interface-detail": {"GET": V, "PUT": OP, "PATCH": OP, "DELETE": A},
    "journal-entry-list": {"GET": V, "POST": OP},
    "journal-entry-detail": {"GET": V, "PUT": NOBODY, "PATCH": NOBODY, "DELETE": NOBODY},  # append-only
    **{f"{basename}-list": {"GET": V, "POST": A} for basename in ("site", "rack", "role", "naming-scheme", "tag")},
    **{f"{basename}-detail": {"GET": V, "PUT": A, "PATCH": A, "DELETE": A}
       for basename in ("site", "rack", "role", "naming-scheme", "tag")},
    "role-next-name": {"GET": V},
    "replacement-list": {"GET": V, "POST": OP},
    "replacement-detail": {"GET": V},
    "replacement-cancel": {"POST": OP},
    "replacement-confirm": {"POST": OP},
    "replacement-replan": {"POST": OP},
    "hypervisor-what-if": {"GET": V},
    "hypervisor-n-plus-one": {"GET": V},
    "hypervisor-capacity": {"GET": V},
    "hypervisor-list": {"GET": V, "POST": A},
    "hypervisor-detail": {"GET": V, "PUT": A, "PATCH": A, "DELETE": A},
    "hypervisor-evacuation-plan": {"GET": V},
    "hypervisor-sync-all": {"POST": OP},
    "hypervisor-sync": {"POST": OP},
    "hypervisor-maintenance": {"POST": OP},
    "hypervisor-leave-maintenance": {"POST": OP},
    "vm-list": {"GET": V},
    "vm-detail": {"GET": V, "PATCH": OP, "DELETE": A},
    "vm-create": {"POST": OP},
    "vm-forget": {"POST": OP},
    "vm-migrate": {"POST": OP},
    "vm-power": {"POST": OP},
    "vm-resize": {"POST": OP},
    "cloud-prices": {"GET": V},
    "cloud-sizing-policy": {"GET": V, "PUT": A, "PATCH": A},
    "cloud-recommendations": {"POST": V},  # computes, changes nothing
    "cloud-account-list": {"GET": V, "POST": A},
    "cloud-account-detail": {"GET": V, "PUT": A, "PATCH": A, "DELETE": A},
    "cloud-account-refresh-instance-types": {"POST": OP},
    "cloud-account-test": {"POST": OP},
    "instance-type-list": {"GET": V},
    "instance-type-detail": {"GET": V},
    "onprem-cost-model-list": {"GET": V, "POST": A},
    "onprem-cost-model-detail": {"GET": V, "PUT": A, "PATCH": A, "DELETE": A},
    "utilisation-list": {"GET": V, "POST": OP},
    "utilisation-detail": {"GET": V, "PUT": OP, "PATCH": OP, "DELETE": A},
    "disk-replication-list": {"GET": V},
    "disk-replication-detail": {"GET": V},
    "health-sweep": {"POST": OP},
    "health-result-list": {"GET": V},
    "health-result-detail": {"GET": V},
    "health-host-list": {"GET": V},
    "health-host-detail": {"GET": V},
    "health-host-series": {"GET": V},
    "health-host-key-list": {"GET": V, "POST": A},
    "health-host-key-detail": {"GET": V, "DELETE": A},
    "health-host-key-trust": {"POST": A},
    **{f"health-{basename}-list": {"GET": V, "POST": A}
       for basename in ("schedule", "port-check", "credential", "alert-target", "fence-device", "recovery-policy")},
    **{f"health-{basename}-detail": {"GET": V, "PUT": A, "PATCH": A, "DELETE": A}
       for basename in ("schedule", "port-check", "credential", "alert-target", "fence-device", "recovery-policy")},
    "health-alert-list": {"GET": V},
    "health-alert-detail": {"GET": V},
    "health-fence-attempt-list": {"GET": V},
    "health-fence-attempt-detail": {"GET": V},
    "health-recovery-list": {"GET": V, "POST": OP},
    "health-recovery-detail": {"GET": V},
    "health-recovery-dismiss": {"POST": OP},
    "migration-assess": {"POST": V},  # computes, changes nothing
    "migration-plan-list": {"GET": V, "POST": OP},
    "migration-plan-detail": {"GET": V, "PUT": OP, "PATCH": OP, "DELETE": OP},
    "migration-plan-group-waves": {"POST": OP},
    "migration-plan-review": {"GET": V},
    "migration-plan-start": {"POST": OP},
    "migration-workload-list": {"GET": V},
    "migration-workload-detail": {"GET": V, "PUT": OP, "PATCH": OP},
    "migration-workload-disks": {"GET": V},
    "migration-wave-list": {"GET": V, "POST": OP},
    "migration-wave-detail": {"GET": V, "PUT": OP, "PATCH": OP, "DELETE": OP},
    "migration-dependency-list": {"GET": V, "POST": OP},
    "migration-dependency-detail": {"GET": V, "PUT": OP, "PATCH": OP, "DELETE": OP},
    "migration-run-list": {"GET": V},
    "migration-run-detail": {"GET": V},
    **{f"migration-run-{control}": {"POST": OP}
       for control in ("cancel", "cutover", "finalize", "pause", "resume", "rollback", "sync", "test-cutover")},
}


def _routes(patterns, prefix="", namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}:{pattern.namespace}" if namespace and pattern.namespace else \
                pattern.namespace or namespace
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield (f"{namespace}:{pattern.name}" if namespace else pattern.name), prefix + str(pattern.pattern)


def routes():
    """{url name: a concrete path} for every named URL but the admin site's and the DRF
    format-suffix copies."""
    found = {}
    for name, route in _routes(get_resolver().url_patterns):
        if name.startswith("admin:") or "(?P<format>" in route or "<drf_format_suffix" in route:
            continue
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", MISSING_ID, route).replace("^", "").replace("$", "")
        path = re.sub(r"<(?!str:control>)(?:\w+:)?\w+>", MISSING_ID, path).replace("<str:control>", "pause")
        found.setdefault(name, "/" + path)
    return found


ROUTES = None


def all_routes():
    global ROUTES
    if ROUTES is None:
        ROUTES = routes()
    return ROUTES


def test_every_url_has_a_rule():
    assert sorted(set(all_routes()) - set(RULES)) == [], "add these URLs to RULES"
    assert sorted(set(RULES) - set(all_routes())) == [], "these rules name URLs that no longer exist"


@pytest.fixture
def identities(db):
    return {"nobody": make_user("nemo"), "viewer": make_user("vera", "viewer"),
            "operator": make_user("otto", "operator"), "admin": make_user("ada", "admin")}


def client_for(identity, users, api):
    if identity == "anonymous":
        return APIClient() if api else Client()
    if api:
        return token_client(users[identity])
    client = Client()
    client.force_login(users[identity])
    return client


def allowed(identity, role):
    if role == NOBODY:
        return False
    if role == PUBLIC:
        return True
    if identity == "anonymous":
        return False
    return role == SIGNED_IN or RANK.get(identity, 0) >= RANK[role]


def refused(response, identity, api):
    if identity == "anonymous" and not api:
        return response.status_code == 302 and response["Location"].startswith("/login/")
    return response.status_code in ((401, 403, 405) if api else (403, 405))


CASES = [(name, method, role) for name, rule in sorted(RULES.items()) for method, role in rule.items()]


@pytest.mark.parametrize("name, method, role", CASES, ids=[f"{n}-{m}" for n, m, _ in CASES])
def test_each_identity_gets_what_its_role_allows(identities, name, method, role):
    path = all_routes()[name]
    api = path.startswith("/api/")
    wrong = []
    for identity in IDENTITIES:
        client = client_for(identity, identities, api)
        send = getattr(client, method.lower())
        response = send(path, {}, format="json") if api and method != "GET" else send(path)
        if response.status_code >= 500:
            wrong.append(f"{identity}: {response.status_code}")
        elif refused(response, identity, api) == allowed(identity, role):
            wrong.append(f"{identity}: {response.status_code}")
    assert wrong == [], f"{method} {path} needs {role}"


def test_the_admin_site_is_for_staff_only(identities):
    for identity in IDENTITIES:
        response = client_for(identity, identities, api=False).get("/admin/")
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), identity
