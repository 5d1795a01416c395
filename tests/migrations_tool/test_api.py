"""Migrations API: roles (viewer reads, operator plans and runs), 400 with field errors
for bad input, 409 for a control that does not apply, and the whole flow."""

import pytest

from migrations_tool.models import Dependency, MigrationPlan, Run

PLANS = "/api/migrations/plans/"


@pytest.fixture
def plan_ids(estate):
    return {"hosts": [estate["hosts"]["luna"].pk, estate["hosts"]["batman"].pk], "vms": [estate["vms"]["vm-huge"].pk]}


def make_plan(client, ids, name="Cloud wave 1", **extra):
    return client.post(PLANS, {"name": name, **ids, **extra}, format="json")


def test_a_viewer_reads_and_assesses_but_cannot_plan(viewer_api, plan_ids):
    assert viewer_api.get(PLANS).status_code == 200
    answer = viewer_api.post("/api/migrations/assess/", plan_ids, format="json")
    assert answer.status_code == 200, answer.content
    by_name = {item["name"]: item for item in answer.json()["items"]}
    assert by_name["batman"]["strategy"] == "replatform-rds"
    assert by_name["vm-huge"]["strategy"] == "rehost-hypervisor"
    assert answer.json()["utilisation_sources"] == {"none": 3}
    assert make_plan(viewer_api, plan_ids).status_code == 403
    assert not MigrationPlan.objects.exists()


def test_anonymous_gets_nothing(anon_api):
    assert anon_api.get(PLANS).status_code in (401, 403)


def test_an_operator_makes_a_plan_from_an_assessment(operator_api, plan_ids):
    answer = make_plan(operator_api, plan_ids)
    assert answer.status_code == 201, answer.content
    plan_id = answer.json()["id"]
    assert answer.json()["workload_count"] == 3
    workloads = operator_api.get("/api/migrations/workloads/", {"plan": plan_id}).json()["results"]
    assert {w["name"] for w in workloads} == {"luna", "batman", "vm-huge"}
    assert all(w["wave"] for w in workloads)
    review = operator_api.get(f"{PLANS}{plan_id}/review/").json()
    assert any("choose the cloud account" in p for p in review["problems"])


@pytest.mark.parametrize("body, field", [
    ({"hosts": [1]}, "name"),
    ({"name": "x", "vms": [999999]}, "vms"),
    ({"name": "x", "hosts": ["luna"]}, "hosts"),
    ({"name": "x"}, "non_field_errors"),
    ({"name": "x", "hosts": [1], "region": "mars-north-9"}, "region"),
    ({"name": "x\x00", "hosts": [1]}, "name"),
])
def test_bad_plan_requests_are_400_with_field_errors(operator_api, estate, body, field):
    answer = operator_api.post(PLANS, body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()


def test_a_duplicate_plan_name_is_a_field_error(operator_api, plan_ids):
    make_plan(operator_api, plan_ids)
    answer = make_plan(operator_api, plan_ids)
    assert answer.status_code == 400 and "name" in answer.json()


def test_changing_a_workload_choice(operator_api, viewer_api, plan_ids):
    plan_id = make_plan(operator_api, plan_ids).json()["id"]
    batman = operator_api.get("/api/migrations/workloads/", {"plan": plan_id, "q": "batman"}).json()["results"][0]
    url = f"/api/migrations/workloads/{batman['id']}/"
    assert viewer_api.patch(url, {"strategy": "rehost-ec2"}, format="json").status_code == 403
    answer = operator_api.patch(url, {"strategy": "rehost-ec2"}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["strategy"] == "rehost-ec2" and answer.json()["aws_monthly"] != batman["aws_monthly"]
    for body, field in (({"instance_type": "x9.nope"}, "instance_type"), ({"strategy": "teleport"}, "strategy"),
                        ({"strategy": "rehost-hypervisor"}, "strategy"), ({"target_hypervisor": 99999}, "target_hypervisor"),
                        ({"strategy": "replatform-rds", "engine": "oracle"}, "engine")):
        answer = operator_api.patch(url, body, format="json")
        assert answer.status_code == 400 and field in answer.json(), (body, answer.content)
    answer = operator_api.patch(url, {"source_dsn": "postgres://u:secret@db/batman"}, format="json")
    assert answer.status_code == 400 and "source_dsn" in answer.json()  # an admin's setting


def test_dependencies_and_waves(operator_api, viewer_api, estate, plan_ids):
    hosts = estate["hosts"]
    body = {"source_host": hosts["luna"].pk, "target_host": hosts["batman"].pk, "description": "PostgreSQL"}
    assert viewer_api.post("/api/migrations/dependencies/", body, format="json").status_code == 403
    answer = operator_api.post("/api/migrations/dependencies/", body, format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["source_name"] == "luna" and answer.json()["created_by"] == "otto-operator"
    for bad, field in (({"source_host": hosts["luna"].pk, "target_host": hosts["luna"].pk}, "target"),
                       ({"target_host": hosts["luna"].pk}, "source"),
                       (body, "target")):  # the same dependency twice
        answer = operator_api.post("/api/migrations/dependencies/", bad, format="json")
        assert answer.status_code == 400 and field in answer.json(), (bad, answer.content)
    plan_id = make_plan(operator_api, plan_ids).json()["id"]
    waves = operator_api.get("/api/migrations/waves/", {"plan": plan_id}).json()["results"]
    assert len(waves) == 2  # luna + batman together, vm-huge alone
    assert operator_api.post(f"{PLANS}{plan_id}/group-waves/").status_code == 200
    answer = operator_api.post("/api/migrations/waves/", {"plan": plan_id, "number": 1}, format="json")
    assert answer.status_code == 400 and "number" in answer.json()
    dependency = Dependency.objects.get()
    assert operator_api.delete(f"/api/migrations/dependencies/{dependency.pk}/").status_code == 204


def test_a_plan_that_is_not_ready_does_not_start(operator_api, plan_ids):
    plan_id = make_plan(operator_api, plan_ids).json()["id"]
    answer = operator_api.post(f"{PLANS}{plan_id}/start/", {}, format="json")
    assert answer.status_code == 400 and answer.json()["non_field_errors"]
    assert operator_api.post(f"{PLANS}{plan_id}/start/", {"wave": 999999}, format="json").status_code == 400


def test_runs_start_and_take_controls(operator_api, viewer_api, estate, embedded_account):
    ids = {"vms": [estate["vms"]["vm-huge"].pk]}  # rehost to another hypervisor: no cloud needed
    plan_id = make_plan(operator_api, ids, account=embedded_account.pk).json()["id"]
    assert viewer_api.post(f"{PLANS}{plan_id}/start/", {}, format="json").status_code == 403
    answer = operator_api.post(f"{PLANS}{plan_id}/start/", {}, format="json")
    assert answer.status_code == 202, answer.content
    run_id = answer.json()["run"]
    detail = viewer_api.get(f"/api/migrations/runs/{run_id}/").json()
    assert [s["kind"] for s in detail["steps"]] == ["migrate_vm"] and detail["state"] == "pending"
    assert viewer_api.post(f"/api/migrations/runs/{run_id}/pause/").status_code == 403
    # not started by a worker yet: cutover needs replicated workloads, resume a paused run
    assert operator_api.post(f"/api/migrations/runs/{run_id}/cutover/", {}, format="json").status_code == 409
    assert operator_api.post(f"/api/migrations/runs/{run_id}/resume/").status_code == 409
    answer = operator_api.post(f"/api/migrations/runs/{run_id}/cutover/", {"workloads": ["x"]}, format="json")
    assert answer.status_code == 400 and "workloads" in answer.json()
    answer = operator_api.post(f"/api/migrations/runs/{run_id}/cancel/")
    assert answer.status_code == 200 and answer.json()["state"] == "cancelled"
    assert Run.objects.get(pk=run_id).steps.get().state == "cancelled"
    assert operator_api.post(f"/api/migrations/runs/{run_id}/cancel/").status_code == 409


def test_the_run_list_takes_a_fixed_number_of_queries(operator_api, estate, embedded_account,
                                                      django_assert_max_num_queries):
    for n in range(3):
        plan_id = make_plan(operator_api, {"vms": [estate["vms"]["vm-huge"].pk]}, name=f"p{n}",
                            account=embedded_account.pk).json()["id"]
        operator_api.post(f"{PLANS}{plan_id}/start/", {}, format="json")
    with django_assert_max_num_queries(8):
        assert operator_api.get("/api/migrations/runs/").json()["count"] == 3
    with django_assert_max_num_queries(8):
        assert operator_api.get(PLANS).json()["count"] == 3


def test_a_workload_disk_is_one_of_its_real_disks_never_a_free_path(operator_api, viewer_api, plan_ids, tmp_path,
                                                                     settings):
    plan_id = make_plan(operator_api, plan_ids).json()["id"]
    batman = operator_api.get("/api/migrations/workloads/", {"plan": plan_id, "q": "batman"}).json()["results"][0]
    url = f"/api/migrations/workloads/{batman['id']}/"
    key_file = settings.VAR_DIR / "field-encryption.key"
    for made_up in (str(key_file), "/etc/shadow", "../../etc/passwd", "sda", "/dev/sda"):
        answer = operator_api.patch(url, {"disk": made_up}, format="json")
        assert answer.status_code == 400 and "disk" in answer.json(), (made_up, answer.content)
    assert operator_api.get(url).json()["disk"] == ""  # nothing was kept

    exported = tmp_path / "batman.raw"  # an exported image under the root an admin declared (tmp_path)
    with open(exported, "wb") as image:
        image.truncate(4 * 1024 * 1024)
        image.write(b"\x01" * 4096)
    listed = viewer_api.get(f"{url}disks/").json()
    assert listed["problem"] and "batman" in listed["problem"]  # its own disks: it cannot be reached here
    assert [(d["name"], d["size"]) for d in listed["disks"]] == [(str(exported), 4 * 1024 * 1024)]
    answer = operator_api.patch(url, {"disk": str(exported)}, format="json")
    assert answer.status_code == 200 and answer.json()["disk"] == str(exported)
