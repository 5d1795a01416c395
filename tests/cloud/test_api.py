"""The cloud API: roles, write-only secrets, field errors, fixed query counts."""

import json
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cloud import tasks
from cloud.models import CloudAccount, InstanceType, OnPremCostModel, SizingPolicy, UtilisationRecord
from core.models import Job
from inventory.models import Host, Role

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ACCOUNTS = "/api/cloud/accounts/"


def new_account(**overrides):
    body = {"name": "Production", "region": "eu-west-1", "auth_mode": "keys", "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "secret_access_key": SECRET}
    return {**body, **overrides}


@pytest.fixture
def account(db):
    return CloudAccount.objects.create(name="Lab", region="us-east-1", access_key_id="AKIALAB", secret_access_key=SECRET,
                                       endpoint_url="http://127.0.0.1:5000")


# --- who may do what ---------------------------------------------------------------------------


def test_reading_needs_a_role(anon_api, nobody, account):
    from tests.conftest import token_client

    for url in (ACCOUNTS, f"{ACCOUNTS}{account.pk}/", "/api/cloud/instance-types/", "/api/cloud/prices/",
                "/api/cloud/onprem-cost-models/", "/api/cloud/sizing-policy/", "/api/cloud/utilisation/"):
        assert anon_api.get(url).status_code == 401, url
        assert token_client(nobody).get(url).status_code == 403, url
    assert anon_api.post("/api/cloud/recommendations/", {"hosts": [1]}, format="json").status_code == 401


def test_accounts_are_written_by_admins_only(viewer_api, operator_api, admin_api, account):
    assert viewer_api.get(ACCOUNTS).status_code == 200
    for client in (viewer_api, operator_api):
        assert client.post(ACCOUNTS, new_account(), format="json").status_code == 403
        assert client.patch(f"{ACCOUNTS}{account.pk}/", {"region": "eu-west-1"}, format="json").status_code == 403
        assert client.delete(f"{ACCOUNTS}{account.pk}/").status_code == 403
    created = admin_api.post(ACCOUNTS, new_account(), format="json")
    assert created.status_code == 201, created.content
    assert admin_api.delete(f"{ACCOUNTS}{account.pk}/").status_code == 204
    assert not CloudAccount.objects.filter(pk=account.pk).exists()


def test_connection_tests_and_refreshes_are_operators_jobs(viewer_api, operator_api, account):
    assert viewer_api.post(f"{ACCOUNTS}{account.pk}/test/").status_code == 403
    assert viewer_api.post(f"{ACCOUNTS}{account.pk}/refresh-instance-types/").status_code == 403
    response = operator_api.post(f"{ACCOUNTS}{account.pk}/test/")
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["job"])
    assert (job.kind, job.params, job.target) == (tasks.test_connection_job.name, {"account_id": account.pk}, account)
    assert job.created_by.username == "otto-operator"
    refresh = operator_api.post(f"{ACCOUNTS}{account.pk}/refresh-instance-types/")
    assert Job.objects.get(pk=refresh.json()["job"]).kind == tasks.refresh_instance_types_job.name
    assert operator_api.post(f"{ACCOUNTS}999999/test/").status_code == 404


def test_the_test_job_checks_the_embedded_cloud(operator_api, embedded_account):
    response = operator_api.post(f"{ACCOUNTS}{embedded_account.pk}/test/")
    tasks.test_connection_job(response.json()["job"])  # the task body, run here instead of by a worker
    job = Job.objects.get(pk=response.json()["job"])
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.result["aws_account_id"] == "123456789012"
    shown = operator_api.get(f"{ACCOUNTS}{embedded_account.pk}/").json()
    assert shown["last_check_ok"] is True and "Connected as" in shown["last_check_message"]


def test_policy_and_cost_models_are_admin_settings(viewer_api, operator_api, admin_api, db):
    assert viewer_api.get("/api/cloud/sizing-policy/").json()["cpu_headroom"] == "1.25"
    assert operator_api.patch("/api/cloud/sizing-policy/", {"cpu_headroom": "1.5"}, format="json").status_code == 403
    assert admin_api.patch("/api/cloud/sizing-policy/", {"cpu_headroom": "1.5"}, format="json").status_code == 200
    assert SizingPolicy.default().cpu_headroom == Decimal("1.5")
    model = {"name": "Server", "kind": "host", "role": None, "hardware_amortisation": "280", "power": "95",
             "rack": "55", "licences": "40"}
    assert operator_api.post("/api/cloud/onprem-cost-models/", model, format="json").status_code == 403
    created = admin_api.post("/api/cloud/onprem-cost-models/", model, format="json")
    assert created.status_code == 201 and created.json()["monthly_total"] == "470.00"


def test_operators_record_utilisation(viewer_api, operator_api, host):
    figures = {"host": host.pk, "p95_cpu_percent": "35", "p95_memory_percent": "40", "max_cpu_percent": "70",
               "days": 30}
    assert viewer_api.post("/api/cloud/utilisation/", figures, format="json").status_code == 403
    created = operator_api.post("/api/cloud/utilisation/", figures, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["workload"] == "luna"
    assert UtilisationRecord.objects.get(host=host).p95_cpu_percent == Decimal("35")


# --- secrets -----------------------------------------------------------------------------------


def test_the_secret_is_write_only_and_encrypted_at_rest(admin_api):
    created = admin_api.post(ACCOUNTS, new_account(), format="json")
    assert "secret_access_key" not in created.json() and created.json()["secret_set"] is True
    pk = created.json()["id"]
    for response in (admin_api.get(ACCOUNTS), admin_api.get(f"{ACCOUNTS}{pk}/"),
                     admin_api.patch(f"{ACCOUNTS}{pk}/", {"default_vpc": "vpc-1"}, format="json"),
                     admin_api.get("/api/changelog/?model=cloudaccount")):
        assert response.status_code == 200
        assert SECRET not in response.content.decode()
    assert CloudAccount.objects.get(pk=pk).secret_access_key == SECRET  # kept by the PATCH that left it out
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_access_key FROM cloud_cloudaccount WHERE id = %s", [pk])
        stored = cursor.fetchone()[0]
    assert stored and SECRET not in stored
    assert not any(SECRET in json.dumps(entry.changes_dict) for entry in LogEntry.objects.all())


def test_the_schema_marks_the_secret_write_only(viewer_api):
    schema = viewer_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "secret_access_key" not in schema["components"]["schemas"]["CloudAccount"]["properties"]
    assert schema["components"]["schemas"]["CloudAccountRequest"]["properties"]["secret_access_key"]["writeOnly"]


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("body, field", [
    (new_account(region="mars-north-1x"), "region"),
    (new_account(endpoint_url="ftp://127.0.0.1/"), "endpoint_url"),
    (new_account(access_key_id=""), "access_key_id"),
    (new_account(secret_access_key=""), "secret_access_key"),
    (new_account(auth_mode="password"), "auth_mode"),
    (new_account(name=""), "name"),
])
def test_bad_accounts_are_refused_field_by_field(admin_api, db, body, field):
    response = admin_api.post(ACCOUNTS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_environment_credentials_need_no_keys(admin_api, db):
    response = admin_api.post(ACCOUNTS, new_account(auth_mode="environment", access_key_id="", secret_access_key=""),
                              format="json")
    assert response.status_code == 201, response.content
    assert response.json()["uses_real_aws"] is True


def test_duplicate_cost_model_is_a_field_error(admin_api, db):
    OnPremCostModel.objects.create(name="Server", kind="host")
    response = admin_api.post("/api/cloud/onprem-cost-models/", {"name": "Again", "kind": "host"}, format="json")
    assert response.status_code == 400
    assert "already a physical host cost model" in response.json()["role"][0]


@pytest.mark.parametrize("body, field", [
    ({}, "non_field_errors"),
    ({"hosts": []}, "non_field_errors"),
    ({"hosts": [987654]}, "hosts"),
    ({"vms": ["x"]}, "vms"),
    ({"hosts": "1"}, "hosts"),
    ({"hosts": [1], "policy": {"cpu_headroom": "0.5"}}, "policy"),
    ({"hosts": [1], "policy": {"architecture": "sparc"}}, "policy"),
    ({"hosts": [1], "region": "nowhere"}, "region"),
    ({"hosts": [1], "region": "ap-south-2"}, "region"),  # a real region without a price table
    ({"hosts": [1], "account": 424242}, "account"),
])
def test_bad_recommendation_requests_are_refused(viewer_api, host, body, field):
    if body.get("hosts") == [1]:
        body = {**body, "hosts": [host.pk]}
    response = viewer_api.post("/api/cloud/recommendations/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_region_must_match_the_account(viewer_api, host, account):
    response = viewer_api.post("/api/cloud/recommendations/",
                               {"hosts": [host.pk], "account": account.pk, "region": "eu-west-1"}, format="json")
    assert response.status_code == 400 and "region" in response.json()


def test_bad_price_queries(viewer_api):
    assert viewer_api.get("/api/cloud/prices/?region=not-a-region").status_code == 400
    missing = viewer_api.get("/api/cloud/prices/?region=ap-south-2")
    assert missing.status_code == 404 and "refresh_prices" in missing.json()["detail"]


# --- answers ---------------------------------------------------------------------------------------


def test_a_viewer_gets_recommendations_with_costs(viewer_api, host, shipped_prices):
    OnPremCostModel.objects.create(name="Server", kind="host", hardware_amortisation=Decimal("400"))
    db_role = Role.objects.create(name="Database server", slug="db")
    database = Host.objects.create(hostname="batman", site=host.site, role=db_role, cpu_cores=8, memory_mib=32768,
                                   disks=[{"name": "sda", "size_gb": 500}])
    UtilisationRecord.objects.create(host=host, p95_cpu_percent=40, p95_memory_percent=50, max_cpu_percent=80, days=30)
    response = viewer_api.post("/api/cloud/recommendations/", {"hosts": [host.pk, database.pk]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["region"] == "us-east-1" and body["prices"]["source"] == shipped_prices.source
    assert body["policy"]["cpu_headroom"] == "1.25"
    batman, luna = body["results"]
    assert (luna["name"], luna["kind"], luna["basis"], luna["action"]) == ("luna", "host", "utilisation", "rehost-ec2")
    assert luna["cost"]["onprem_monthly"] == "400.00"
    hourly = shipped_prices.ec2[luna["target"]].hourly
    assert Decimal(luna["cost"]["aws_compute_monthly"]) == (hourly * 730).quantize(Decimal("0.01"))
    assert Decimal(luna["cost"]["difference"]) == Decimal(luna["cost"]["aws_monthly"]) - Decimal("400")
    assert (batman["action"], batman["engine"], batman["basis"]) == ("replatform-rds", "postgres", "allocation")
    assert batman["target"].startswith("db.")
    assert body["totals"]["by_action"] == {"rehost-ec2": 1, "replatform-rds": 1, "retire": 0, "no-fit": 0}

    allowing = viewer_api.post("/api/cloud/recommendations/",
                               {"hosts": [host.pk], "policy": {"allow_burstable": True, "cpu_headroom": "2"}},
                               format="json").json()
    assert allowing["policy"]["allow_burstable"] is True and allowing["policy"]["cpu_headroom"] == "2.00"
    assert allowing["results"][0]["required_vcpus"] == 1  # ceil(1 core × 40% × 2)


def test_recommendations_for_an_account_use_its_catalogue(viewer_api, host, account, shipped_prices):
    InstanceType.objects.create(region="us-east-1", name="m7i.xlarge", family="m7i", vcpus=4, memory_mib=16384,
                                architecture="x86_64")
    response = viewer_api.post("/api/cloud/recommendations/", {"hosts": [host.pk], "account": account.pk},
                               format="json").json()
    assert response["catalogue_used"] is True and response["account"] == account.pk
    assert response["results"][0]["target"] == "m7i.xlarge"  # the only type this account's region offers


def test_price_table_answers_with_its_source(viewer_api, shipped_prices):
    body = viewer_api.get("/api/cloud/prices/?family=m7i").json()
    assert body["source"] == shipped_prices.source and body["region"] == "us-east-1"
    assert {e["name"] for e in body["ec2"]} == {n for n in shipped_prices.ec2 if n.startswith("m7i.")}
    large = next(e for e in body["ec2"] if e["name"] == "m7i.large")
    assert Decimal(large["monthly"]) == (shipped_prices.ec2["m7i.large"].hourly * 730).quantize(Decimal("0.01"))
    mysql = viewer_api.get("/api/cloud/prices/?engine=mysql&family=db.m5").json()["rds"]
    assert {e["name"] for e in mysql} == {n for n in shipped_prices.rds["mysql"] if n.startswith("db.m5.")}
    assert "us-east-1" in body["regions"]


def test_instance_types_filter(viewer_api, db):
    for name, vcpus in (("m7i.large", 2), ("m7i.xlarge", 4), ("t3.micro", 2)):
        InstanceType.objects.create(region="us-east-1", name=name, family=name.split(".")[0], vcpus=vcpus,
                                    memory_mib=vcpus * 4096, burstable=name.startswith("t"), architecture="x86_64")
    names = lambda query: {t["name"] for t in viewer_api.get(f"/api/cloud/instance-types/?{query}").json()["results"]}  # noqa: E731
    assert names("family=m7i") == {"m7i.large", "m7i.xlarge"}
    assert names("min_vcpus=4") == {"m7i.xlarge"}
    assert names("burstable=true") == {"t3.micro"}
    assert viewer_api.get("/api/cloud/instance-types/?min_vcpus=lots").status_code == 400


# --- fixed query counts -----------------------------------------------------------------------------


def list_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("url, make", [
    (ACCOUNTS, lambda n: CloudAccount.objects.create(name=f"acct{n}", region="us-east-1", auth_mode="environment")),
    ("/api/cloud/instance-types/", lambda n: InstanceType.objects.create(
        region="us-east-1", name=f"m{n}.large", family=f"m{n}", vcpus=2, memory_mib=8192, architecture="x86_64")),
    ("/api/cloud/onprem-cost-models/", lambda n: OnPremCostModel.objects.create(
        name=f"m{n}", kind="host", role=Role.objects.create(name=f"Role {n}", slug=f"role-{n}"))),
    ("/api/cloud/utilisation/", lambda n: UtilisationRecord.objects.create(
        host=Host.objects.create(hostname=f"h{n}", site_id=Host.objects.first().site_id), p95_cpu_percent=1,
        p95_memory_percent=1, max_cpu_percent=1, days=1)),
])
def test_list_endpoints_run_a_fixed_number_of_queries(viewer_api, host, url, make):
    make(0)
    list_queries(viewer_api, url)  # warm up (the viewer's role, content types)
    few = list_queries(viewer_api, url)
    for n in range(1, 8):
        make(n)
    assert list_queries(viewer_api, url) == few
