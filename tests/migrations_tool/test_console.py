"""Console pages of migrations: roles (viewers read, operators change), form errors for
bad input (never a 500), empty states."""

import pytest
from django.test import Client
from django.urls import reverse

from cloud.services.workloads import load_workloads
from migrations_tool.models import Dependency, MigrationPlan, Run
from migrations_tool.services import plans, runs
from migrations_tool.services.assessment import assess


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def plan(estate, embedded_account):
    hosts = estate["hosts"]
    made = plans.create_plan("Wave 1", assess(load_workloads(host_ids=[hosts["luna"].pk, hosts["batman"].pk],
                                                             vm_ids=[estate["vms"]["vm-huge"].pk])))
    made.account = embedded_account
    made.save()
    return made


def pages(plan):
    return [reverse(name, args=[plan.pk]) for name in ("migrations_tool:plan_assessment", "migrations_tool:plan_waves",
                                                        "migrations_tool:plan_targets", "migrations_tool:plan_review")]


def test_a_viewer_reads_every_page_and_changes_nothing(viewer, plan):
    client = client_for(viewer)
    assert "New migration" not in client.get(reverse("migrations_tool:migrationplan_list")).content.decode()
    for url in pages(plan):
        answer = client.get(url)
        assert answer.status_code == 200 and b"Save" not in answer.content and b'id="start-run"' not in answer.content
        assert client.post(url, {}).status_code == 403
    assert client.get(reverse("migrations_tool:migrationplan_add")).status_code == 403


def test_the_plan_list_says_when_there_is_nothing(viewer):
    answer = client_for(viewer).get(reverse("migrations_tool:migrationplan_list"))
    assert b'id="plans-empty"' in answer.content


def test_picking_nothing_or_a_taken_name_is_a_form_error(operator, plan, estate):
    client = client_for(operator)
    url = reverse("migrations_tool:migrationplan_add")
    answer = client.post(url, {"name": "New one"})
    assert answer.status_code == 200 and b"Tick at least one workload" in answer.content
    answer = client.post(url, {"name": "Wave 1", "host": [estate["hosts"]["odin"].pk]})
    assert b"There is already a plan named Wave 1" in answer.content
    answer = client.post(url, {"name": "x", "host": ["not-a-number", "999999"]})
    assert answer.status_code == 200 and b"invalid-feedback" in answer.content
    assert MigrationPlan.objects.count() == 1


def test_an_impossible_choice_is_shown_on_its_row_and_nothing_is_saved(operator, plan):
    luna, batman = plan.workloads.get(name="luna"), plan.workloads.get(name="batman")
    url = reverse("migrations_tool:plan_assessment", args=[plan.pk])
    form = client_for(operator).get(url).context["rows"]
    data = {f"{f.prefix}-{name}": (value if value is not None else "") for _, f in form
            for name, value in f.initial.items() if name in f.fields}
    data = {k: v for k, v in data.items() if v is not False}
    data[f"w{luna.pk}-instance_type"] = "x9.nope"
    data[f"w{batman.pk}-strategy"] = "retain"
    answer = client_for(operator).post(url, data)
    assert answer.status_code == 200 and b"no price" in answer.content
    batman.refresh_from_db()
    assert batman.strategy == "replatform-rds"  # all or nothing


def test_dependencies_are_recorded_and_refused_from_the_waves_page(operator, plan):
    luna, batman = plan.workloads.get(name="luna"), plan.workloads.get(name="batman")
    client, url = client_for(operator), reverse("migrations_tool:plan_waves", args=[plan.pk])
    client.post(url, {"action": "add-dependency", "source": luna.pk, "target": batman.pk})
    assert Dependency.objects.count() == 1
    answer = client.post(url, {"action": "add-dependency", "source": luna.pk, "target": luna.pk})
    assert answer.status_code == 200 and b"cannot depend on itself" in answer.content
    answer = client.post(url, {"action": "add-dependency", "source": "x", "target": ""})
    assert answer.status_code == 200 and b"invalid-feedback" in answer.content
    client.post(url, {"action": "group"})
    assert plan.waves.count() == 2
    client.post(url, {"action": "delete-dependency", "dependency": "junk"})
    assert Dependency.objects.count() == 1


def test_review_lists_what_stops_the_start_and_the_run_page_its_controls(operator, plan, tmp_path):
    client = client_for(operator)
    url = reverse("migrations_tool:plan_review", args=[plan.pk])
    answer = client.get(url)
    assert b"give the source database DSN" in answer.content
    assert b"luna: no disk chosen: choose one of luna&#x27;s disks in the plan." in answer.content  # the review asks for the sources too
    answer = client.post(url)
    assert answer.status_code == 200 and b"start-error" in answer.content and not Run.objects.exists()
    disk = tmp_path / "luna.raw"
    disk.write_bytes(bytes(1024 * 1024))
    plan.workloads.filter(name="batman").update(strategy="retain")
    plan.workloads.filter(name="luna").update(disk=str(disk))
    answer = client.post(url)
    run = Run.objects.get()
    assert answer.status_code == 302 and answer.url == reverse("migrations_tool:run_detail", args=[run.pk])
    page = client.get(answer.url).content.decode()
    assert 'id="run-pause"' in page and 'id="run-cancel"' in page and "Replicate the disk" in page
    assert client.post(reverse("migrations_tool:run_control", args=[run.pk, "teleport"])).status_code == 302
    client.post(reverse("migrations_tool:run_control", args=[run.pk, "cancel"]))
    run.refresh_from_db()
    assert run.state == Run.State.CANCELLED
    assert runs.run_log(run).count("Cancelled") >= 1


def test_a_host_page_shows_the_plans_that_move_it_and_the_instance_it_became(viewer, plan, estate):
    from migrations_tool.models import PlannedWorkload

    hosts = estate["hosts"]
    vm = estate["vms"]["vm-huge"]
    vm.inventory_host = hosts["odin"]  # the VM's record in the inventory
    vm.save(update_fields=["inventory_host"])
    plan.workloads.filter(host=hosts["luna"]).update(status=PlannedWorkload.Status.MIGRATED,
                                                     cloud_instance_id="i-0123456789abcdef0", cloud_address="10.0.0.7")
    client = client_for(viewer)

    def card(host):
        response = client.get(reverse("migrations_tool:host_card", args=[host.pk]))
        assert response.status_code == 200
        return response.content.decode()

    luna = card(hosts["luna"])
    assert 'data-status="migrated"' in luna and "i-0123456789abcdef0" in luna and plan.name in luna
    assert 'data-status="planned"' in card(hosts["odin"])  # through its VM's record
    assert card(hosts["hv2"]).strip() == ""  # in no plan: no card at all
    page = client.get(hosts["luna"].get_absolute_url()).content.decode()
    assert f'hx-get="{reverse("migrations_tool:host_card", args=[hosts["luna"].pk])}"' in page


def test_the_dashboard_lists_runs_that_need_someone(viewer, plan):
    run = Run.objects.create(plan=plan, state=Run.State.WAITING, message="Replicated: test, then cut over")
    Run.objects.create(plan=plan, state=Run.State.DONE, message="Every workload moved")
    html = client_for(viewer).get(reverse("dashboard")).content.decode()
    assert 'id="dashboard-migrations"' in html
    assert html.count('class="list-group-item d-flex align-items-center gap-2 dashboard-run"') == 1  # not the done one
    assert f'href="{run.get_absolute_url()}"' in html and "Waiting for cutover" in html
