"""The health API: who may do what, filters, write-only secrets, fixed query counts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import Job
from health.models import CheckResult, CheckSchedule, CheckStatus, HostHealth
from inventory.models import Host

API = "/api/health/"


@pytest.fixture
def results(host, site, app_role):
    other = Host.objects.create(hostname="titan", site=site, role=app_role, status="active")
    now = timezone.now()
    rows = []
    for minutes, (target, check, ok) in enumerate([(host, "ssh", True), (host, "metrics", False),
                                                   (other, "ssh", True), (host, "ssh", False)]):
        rows.append(CheckResult.objects.create(host=target, check_type=check, ok=ok, alive=ok, message=f"m{minutes}",
                                               checked_at=now - timedelta(minutes=60 - minutes * 10)))
    for target in (host, other):
        HostHealth.objects.create(host=target, state="healthy" if target == other else "suspect", since=now)
        CheckStatus.objects.create(host=target, check_type="ssh", ok=True, checked_at=now, since=now)
    return rows


def test_viewers_read_results_filtered_by_host_check_and_time(viewer_api, host, results):
    body = viewer_api.get(f"{API}results/", {"host": host.pk, "check": "ssh"}).json()
    assert [r["message"] for r in body["results"]] == ["m3", "m0"]
    since = (timezone.now() - timedelta(minutes=35)).isoformat()
    body = viewer_api.get(f"{API}results/", {"hostname": "luna", "since": since}).json()
    assert [r["message"] for r in body["results"]] == ["m3"]
    assert viewer_api.get(f"{API}results/", {"ok": "false"}).json()["count"] == 2
    assert viewer_api.get(f"{API}results/", {"since": "yesterday"}).status_code == 400


def test_anonymous_and_roleless_users_read_nothing(anon_api, nobody, results):
    from tests.conftest import token_client

    assert anon_api.get(f"{API}results/").status_code == 401
    assert token_client(nobody).get(f"{API}hosts/").status_code == 403


def test_current_state_per_host(viewer_api, host, results):
    body = viewer_api.get(f"{API}hosts/", {"state": "suspect"}).json()
    assert [h["hostname"] for h in body["results"]] == ["luna"]
    assert body["results"][0]["checks"][0]["check"] == "ssh"
    assert viewer_api.get(f"{API}hosts/{host.pk}/").json()["state"] == "suspect"


def test_lists_cost_a_fixed_number_of_queries(viewer_api, results, site, app_role, django_assert_max_num_queries):
    for index in range(5):
        extra = Host.objects.create(hostname=f"moon{index}", site=site, role=app_role, status="active")
        HostHealth.objects.create(host=extra, state="healthy", since=timezone.now())
        CheckStatus.objects.create(host=extra, check_type="ssh", ok=True, checked_at=timezone.now(),
                                   since=timezone.now())
    with django_assert_max_num_queries(8):
        assert viewer_api.get(f"{API}hosts/").json()["count"] == 7
    with django_assert_max_num_queries(8):
        assert viewer_api.get(f"{API}results/").json()["count"] == 4


def test_schedules_are_admin_configuration(admin_api, operator_api, viewer_api, app_role, host):
    assert viewer_api.get(f"{API}schedules/").json()["count"] == 5  # the defaults, after migrate
    body = {"check": "ssh", "role": "app", "interval_seconds": 20}
    assert operator_api.post(f"{API}schedules/", body).status_code == 403
    created = admin_api.post(f"{API}schedules/", body)
    assert created.status_code == 201, created.json()
    assert created.json()["scope"] == "role App server"
    assert admin_api.post(f"{API}schedules/", body).status_code == 400  # one per check and role
    both = admin_api.post(f"{API}schedules/", {"check": "ssh", "role": "app", "host": host.pk, "interval_seconds": 20})
    assert both.status_code == 400
    assert admin_api.post(f"{API}schedules/", {"check": "ssh", "interval_seconds": 1}).status_code == 400
    assert admin_api.post(f"{API}schedules/", {"check": "nope", "interval_seconds": 30}).status_code == 400
    assert CheckSchedule.objects.filter(role=app_role).count() == 1


def test_alert_targets_validate_their_address(admin_api):
    assert admin_api.post(f"{API}alert-targets/", {"name": "x", "kind": "webhook", "address": "ftp://x"}
                          ).status_code == 400
    assert admin_api.post(f"{API}alert-targets/", {"name": "y", "kind": "email", "address": "a@b.example, nope"}
                          ).status_code == 400
    assert admin_api.post(f"{API}alert-targets/", {"name": "z", "kind": "webhook",
                                                   "address": "http://127.0.0.1:9/hook"}).status_code == 201


def test_a_sweep_is_a_job_for_operators(operator_api, viewer_api, host, django_capture_on_commit_callbacks):
    assert viewer_api.post(f"{API}sweeps/", {}).status_code == 403
    assert operator_api.post(f"{API}sweeps/", {"checks": ["teleport"]}).status_code == 400
    assert operator_api.post(f"{API}sweeps/", {"hosts": [99999]}).status_code == 400
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = operator_api.post(f"{API}sweeps/", {"hosts": [host.pk], "checks": ["ssh"]})
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["job"])
    assert job.kind == "health.sweep" and job.params == {"host_ids": [host.pk], "checks": ["ssh"]}
    assert len(callbacks) == 1  # the task is sent once committed


def test_series_for_charts(viewer_api, host):
    now = timezone.now()
    CheckResult.objects.create(host=host, check_type="metrics", ok=True, checked_at=now - timedelta(minutes=5),
                               value={"load1": 1.5, "load5": 1, "load15": 0.5, "mem_used_pct": 50, "disks": {"/": 70}})
    HostHealth.objects.create(host=host, state="healthy", since=now)
    body = viewer_api.get(f"{API}hosts/{host.pk}/series/", {"range": "6h"}).json()
    assert [point[1] for point in body["load1"]] == [1.5]
    assert body["disks"] == {"/": [[body["load1"][0][0], 70]]}
    assert viewer_api.get(f"{API}hosts/{host.pk}/series/", {"range": "1y"}).status_code == 400
