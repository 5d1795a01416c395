import pytest

from core.jobs import create_job
from core.models import Job
from tests.conftest import token_client

JOBS = "/api/jobs/"


@pytest.fixture
def job(operator, host):
    return create_job("inventory.import", "Import hosts.csv", user=operator, params={"rows": 3}, target=host)


def test_list_and_detail(viewer_api, job):
    Job.objects.filter(pk=job.pk).update(log="12:00:00 started\n", error="trace")
    listed = viewer_api.get(JOBS).json()["results"]
    assert [(j["id"], j["state"], j["created_by"], j["target_type"]) for j in listed] == [
        (job.pk, "pending", "otto-operator", "inventory.host")
    ]
    assert "log" not in listed[0]  # logs can be long: detail only
    body = viewer_api.get(f"{JOBS}{job.pk}/").json()
    assert (body["log"], body["error"], body["params"], body["target_id"]) == (
        "12:00:00 started\n", "trace", {"rows": 3}, str(job.target_id)
    )


@pytest.mark.parametrize("query, expected", [("state=pending", 1), ("state=running", 0), ("kind=inventory.import", 1),
                                             ("created_by=otto-operator", 1), ("created_by=someone", 0)])
def test_filters(viewer_api, job, query, expected):
    assert viewer_api.get(f"{JOBS}?{query}").json()["count"] == expected


def test_bad_filter_is_400(viewer_api, job):
    response = viewer_api.get(f"{JOBS}?state=exploded")
    assert response.status_code == 400
    assert "state" in response.json()


def test_operator_cancels_a_pending_job(operator_api, job):
    response = operator_api.post(f"{JOBS}{job.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    job.refresh_from_db()
    assert (job.state, job.cancel_requested) == (Job.State.CANCELLED, True)


def test_cancelling_a_running_job_asks_it_to_stop(operator_api, job):
    Job.objects.filter(pk=job.pk).update(state=Job.State.RUNNING)
    response = operator_api.post(f"{JOBS}{job.pk}/cancel/")
    assert response.status_code == 200
    assert (response.json()["state"], response.json()["cancel_requested"]) == ("running", True)


def test_cancelling_a_finished_job_is_a_409(operator_api, job):
    Job.objects.filter(pk=job.pk).update(state=Job.State.SUCCEEDED)
    response = operator_api.post(f"{JOBS}{job.pk}/cancel/")
    assert response.status_code == 409
    assert "already finished" in response.json()["detail"]


@pytest.mark.parametrize(
    "who, method, path, expected",
    [
        ("anonymous", "get", "", 401),
        ("anonymous", "post", "{id}/cancel/", 401),
        ("nobody", "get", "", 403),
        ("viewer", "post", "{id}/cancel/", 403),
        ("viewer", "get", "987654/", 404),
        ("operator", "post", "987654/cancel/", 404),
        ("admin", "delete", "{id}/", 405),  # jobs are read-only
        ("admin", "post", "", 405),
    ],
)
def test_access(request, job, nobody, who, method, path, expected):
    clients = {"anonymous": "anon_api", "viewer": "viewer_api", "operator": "operator_api", "admin": "admin_api"}
    client = token_client(nobody) if who == "nobody" else request.getfixturevalue(clients[who])
    response = getattr(client, method)(JOBS + path.format(id=job.pk))
    assert response.status_code == expected
    job.refresh_from_db()
    assert job.state == Job.State.PENDING


def test_job_list_query_count_does_not_grow(viewer_api, operator, host, django_assert_max_num_queries):
    for n in range(3):
        create_job("x", f"job {n}", user=operator, target=host)
    with django_assert_max_num_queries(6) as small:
        viewer_api.get(JOBS)
    for n in range(30):
        create_job("x", f"job {n}", user=operator, target=host)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert viewer_api.get(JOBS).json()["count"] == 33
