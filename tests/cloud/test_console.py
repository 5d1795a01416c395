"""The cloud console pages: roles, no secret ever rendered, right-sizing results, empty states."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client

from cloud import tasks
from cloud.models import CloudAccount, OnPremCostModel, SizingPolicy, UtilisationRecord
from core.models import Job
from inventory.models import Host, Role, Tag

SECRET = "console-secret-never-rendered-0123456789"


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def account(db):
    return CloudAccount.objects.create(name="Lab", region="us-east-1", access_key_id="AKIALABKEY", secret_access_key=SECRET,
                                       endpoint_url="http://127.0.0.1:5000", is_embedded=True)


PAGES = ["/cloud/", "/cloud/sizing/", "/cloud/costs/", "/cloud/prices/", "/cloud/instance-types/"]


@pytest.mark.parametrize("url", PAGES)
def test_pages_need_a_login_and_a_role(client, nobody, url):
    assert client.get(url).status_code == 302  # to the login page
    assert logged_in(nobody).get(url).status_code == 403


def test_empty_states(viewer):
    client = logged_in(viewer)
    assert 'id="no-accounts"' in client.get("/cloud/").content.decode()
    assert 'id="sizing-empty"' in client.get("/cloud/sizing/").content.decode()
    assert 'id="no-cost-models"' in client.get("/cloud/costs/").content.decode()
    assert 'id="no-instance-types"' in client.get("/cloud/instance-types/").content.decode()
    no_match = client.get("/cloud/sizing/?size=1&role=&workloads=hosts").content.decode()
    assert 'id="no-workloads"' in no_match


def test_account_pages_never_show_the_secret(admin_user, account):
    client = logged_in(admin_user)
    for url in ("/cloud/", f"/cloud/accounts/{account.pk}/", f"/cloud/accounts/{account.pk}/edit/",
                f"/cloud/accounts/{account.pk}/status/"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert SECRET not in page.content.decode(), url
    detail = client.get(f"/cloud/accounts/{account.pk}/").content.decode()
    assert "stored (encrypted, not shown)" in detail and "AKIALABKEY" in detail


def test_admins_add_and_edit_accounts_and_an_empty_secret_keeps_the_stored_one(admin_user, account):
    client = logged_in(admin_user)
    form = {"name": "Production", "region": "eu-west-1", "auth_mode": "keys", "access_key_id": "AKIAPROD",
            "secret_access_key": "prod-secret", "endpoint_url": ""}
    response = client.post("/cloud/accounts/add/", form)
    created = CloudAccount.objects.get(name="Production")
    assert response.status_code == 302 and response.url == created.get_absolute_url()
    assert created.secret_access_key == "prod-secret" and created.uses_real_aws

    response = client.post(f"/cloud/accounts/{account.pk}/edit/", {
        "name": "Lab", "region": "us-east-1", "auth_mode": "keys", "access_key_id": "AKIALABKEY", "secret_access_key": "",
        "endpoint_url": "http://127.0.0.1:5001"})
    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.endpoint_url, account.secret_access_key) == ("http://127.0.0.1:5001", SECRET)


def test_account_form_errors_are_shown_on_their_fields(admin_user, db):
    page = logged_in(admin_user).post("/cloud/accounts/add/", {
        "name": "New", "region": "Frankfurt", "auth_mode": "keys", "access_key_id": "", "secret_access_key": "",
        "endpoint_url": "not a url"})
    assert page.status_code == 400
    form = page.context["form"]
    assert {"region", "access_key_id", "secret_access_key", "endpoint_url"} <= set(form.errors)
    assert "is-invalid" in page.content.decode()
    assert not CloudAccount.objects.filter(name="New").exists()


def test_only_admins_change_accounts_and_operators_start_jobs(viewer, operator, account):
    for user in (viewer, operator):
        client = logged_in(user)
        assert client.get("/cloud/accounts/add/").status_code == 403
        assert client.post(f"/cloud/accounts/{account.pk}/delete/").status_code == 403
    assert logged_in(viewer).post(f"/cloud/accounts/{account.pk}/test/").status_code == 403
    response = logged_in(operator).post(f"/cloud/accounts/{account.pk}/test/")
    assert response.status_code == 302
    job = Job.objects.get(kind=tasks.test_connection_job.name)
    assert job.params == {"account_id": account.pk}
    detail = logged_in(operator).get(f"/cloud/accounts/{account.pk}/").content.decode()
    assert f'data-running-job="{job.pk}"' in detail and 'hx-trigger="every 1s"' in detail  # polled while it runs
    assert 'id="test-connection"' in detail
    assert 'id="test-connection"' not in logged_in(viewer).get(f"/cloud/accounts/{account.pk}/").content.decode()


def test_sizing_page_shows_target_reason_and_costs(viewer, site, account, shipped_prices):
    app = Role.objects.create(name="App server", slug="app")
    db_role = Role.objects.create(name="Database server", slug="db")
    prod = Tag.objects.create(name="prod", slug="prod")
    luna = Host.objects.create(hostname="luna", site=site, role=app, status="active", cpu_cores=32,
                               memory_mib=256 * 1024, disks=[{"name": "sda", "size_gb": 480}])
    superman = Host.objects.create(hostname="superman", site=site, role=db_role, status="active", cpu_cores=8,
                                   memory_mib=64 * 1024)
    superman.tags.add(prod)
    UtilisationRecord.objects.create(host=luna, p95_cpu_percent=Decimal("35"), p95_memory_percent=Decimal("40"),
                                     max_cpu_percent=Decimal("70"), days=30)
    OnPremCostModel.objects.create(name="Server", kind="host", hardware_amortisation=Decimal("470"))

    page = logged_in(viewer).get(f"/cloud/sizing/?size=1&workloads=hosts&status=active&account={account.pk}")
    assert page.status_code == 200
    html = page.content.decode()
    result = page.context["result"]
    by_name = {r.workload.name: r for r in result.recommendations}
    assert set(by_name) == {"luna", "superman"}
    assert f'data-workload="luna" data-action="rehost-ec2" data-target="{by_name["luna"].target}"' in html
    assert by_name["superman"].target.startswith("db.") and "Multi-AZ" in html
    assert "Sized from utilisation" in html and "Sized from allocation, no utilisation data" in html
    assert f"retrieved {shipped_prices.retrieved}" in html  # the prices say where and when they come from
    assert 'id="cost-chart"' in html and "vendor/chart.js/chart.umd.js" in html
    assert page.context["chart"]["labels"] and len(page.context["chart"]["aws"]) == 2
    assert "its instance type list is not loaded yet" in html  # the account's catalogue was never refreshed

    only_db = logged_in(viewer).get("/cloud/sizing/?size=1&role=db").context["result"]
    assert [r.workload.name for r in only_db.recommendations] == ["superman"]
    by_id = logged_in(viewer).get(f"/cloud/sizing/?host={luna.pk}").context["result"]
    assert [r.workload.name for r in by_id.recommendations] == ["luna"]
    burstable = logged_in(viewer).get("/cloud/sizing/?size=1&role=app&allow_burstable=on&cpu_headroom=1.5")
    assert burstable.context["result"].policy.allow_burstable is True
    assert burstable.context["result"].policy.cpu_headroom == Decimal("1.5")


def test_sizing_form_errors_are_shown(viewer, db):
    page = logged_in(viewer).get("/cloud/sizing/?size=1&cpu_headroom=0.2")
    assert page.status_code == 200
    assert "cpu_headroom" in page.context["form"].errors and "result" not in page.context


def test_cost_models_and_policy_are_edited_by_admins(admin_user, operator, db):
    client = logged_in(admin_user)
    response = client.post("/cloud/costs/models/add/", {"name": "Server", "kind": "host", "hardware_amortisation": "280",
                                                        "power": "95", "rack": "55", "licences": "40"})
    assert response.status_code == 302
    assert OnPremCostModel.objects.get(name="Server").monthly_total == Decimal("470")
    again = client.post("/cloud/costs/models/add/", {"name": "Twin", "kind": "host", "hardware_amortisation": "1",
                                                     "power": "0", "rack": "0", "licences": "0"})
    assert again.status_code == 400 and "role" in again.context["form"].errors
    assert "470.00" in client.get("/cloud/costs/").content.decode()
    assert logged_in(operator).get("/cloud/costs/policy/").status_code == 403
    policy = {field: value for field, value in {
        "cpu_headroom": "1.5", "memory_headroom": "1.25", "min_memory_mib": "2048", "architecture": "x86_64",
        "retire_max_cpu_percent": "3", "retire_min_days": "21", "database_role": "db", "production_tag": "prod",
        "default_db_engine": "mysql"}.items()}
    assert client.post("/cloud/costs/policy/", policy).status_code == 302
    stored = SizingPolicy.default()
    assert (stored.cpu_headroom, stored.retire_min_days, stored.default_db_engine) == (Decimal("1.5"), 21, "mysql")


def test_price_and_instance_type_pages(viewer, shipped_prices, db):
    client = logged_in(viewer)
    prices = client.get("/cloud/prices/").content.decode()
    assert shipped_prices.source in prices and 'data-type="m7i.large"' in prices
    from cloud.models import InstanceType

    InstanceType.objects.create(region="us-east-1", name="m7i.large", family="m7i", vcpus=2, memory_mib=8192,
                                architecture="x86_64")
    listing = client.get("/cloud/instance-types/?family=m7i").content.decode()
    assert "m7i.large" in listing and 'id="instance-type-table"' in listing


def test_load_cloud_demo_is_idempotent(db, settings):
    settings.OPSCONSOLE_CLOUD_ENDPOINT = "http://127.0.0.1:5999"
    call_command("load_demo")
    call_command("load_cloud_demo")
    account = CloudAccount.objects.get(is_embedded=True)
    assert account.endpoint_url == "http://127.0.0.1:5999" and account.region == "us-east-1"
    counts = (CloudAccount.objects.count(), OnPremCostModel.objects.count(), UtilisationRecord.objects.count())
    assert counts[1] == 3 and counts[2] == 4
    account.default_vpc = "vpc-edited"
    account.save()
    call_command("load_cloud_demo")
    assert (CloudAccount.objects.count(), OnPremCostModel.objects.count(), UtilisationRecord.objects.count()) == counts
    assert CloudAccount.objects.get(is_embedded=True).default_vpc == "vpc-edited"  # an admin's edit survives


def test_cloud_server_listens_on_loopback_only():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="only listens on the loopback interface"):
        call_command("cloud_server", "--host", "0.0.0.0", "--port", "5999")
