"""The whole migration wizard in a real browser against the embedded cloud (moto's server)
with a real worker: pick workloads, see the assessment (health-measured sizing and cost),
change a choice, record a dependency and group waves, choose the account, network and
disk, review, start; then on the run page watch replication, test cutover, cut over and
finalize."""

import uuid

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from cloud.drivers import aws
from migrations_tool.models import Dependency, MigrationPlan, Run
from tests.browser.conftest import log_in

from .conftest import record_metrics

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BLOCK = 512 * 1024
RUN_TIMEOUT_MS = 120_000


@pytest.fixture
def disk(tmp_path):
    path = tmp_path / "luna.raw"
    with open(path, "wb") as image:
        image.truncate(4 * 1024 * 1024)
        for index in (0, 2):
            image.seek(index * BLOCK)
            image.write(bytes([index + 1]) * BLOCK)
    return path


def test_the_wizard_from_picking_workloads_to_cutover(page, estate, embedded_account, celery_worker_process,
                                                       operator, disk):
    hosts = estate["hosts"]
    record_metrics(hosts["luna"], load5=2.0, mem_used_pct=50)  # luna is measured by the health checks
    aws.client(embedded_account, "route53").create_hosted_zone(Name="corp.example.", CallerReference=uuid.uuid4().hex)
    log_in(page, operator.username)

    # 1. Pick: filter hosts of the site, tick luna and batman, name the plan, choose the account.
    page.goto(reverse("migrations_tool:migrationplan_list"))
    expect(page.locator("#plans-empty")).to_be_visible()
    page.click("#new-plan")
    page.select_option("#id_site", "ams1")
    page.select_option("#id_kind", "hosts")
    page.click("#pick-filter")
    expect(page.locator("#pick-table tbody tr")).to_have_count(5)
    page.check(f"#pick-host-{hosts['luna'].pk}")
    page.check(f"#pick-host-{hosts['batman'].pk}")
    page.click("#assess")
    expect(page.locator("#pick-form .invalid-feedback, #pick-form .alert-danger").first).to_be_visible()  # no name
    page.check(f"#pick-host-{hosts['luna'].pk}")
    page.check(f"#pick-host-{hosts['batman'].pk}")
    page.fill("#id_name", "Luna to the cloud")
    page.select_option("#id_account", str(embedded_account.pk))
    page.click("#assess")

    # 2. Assessment: luna sized from the health checks, batman to RDS; keep batman home instead.
    plan = MigrationPlan.objects.get(name="Luna to the cloud")
    luna, batman = plan.workloads.get(name="luna"), plan.workloads.get(name="batman")
    expect(page.locator(f"#row-{luna.pk}")).to_contain_text("health checks")
    expect(page.locator(f"#row-{luna.pk}")).to_have_attribute("data-strategy", "rehost-ec2")
    expect(page.locator(f"#row-{batman.pk}")).to_have_attribute("data-strategy", "replatform-rds")
    page.fill(f"#id_w{luna.pk}-instance_type", "x9.nothing")
    page.click("#save-choices")
    expect(page.locator(f"#row-{luna.pk} .invalid-feedback")).to_contain_text("no price")
    page.fill(f"#id_w{luna.pk}-instance_type", luna.instance_type)
    page.select_option(f"#id_w{batman.pk}-strategy", "retain")
    page.click("#to-waves")

    # 3. Waves: record "luna needs batman", regroup: one wave, batman first.
    expect(page.locator("#no-dependencies")).to_be_visible()
    page.select_option("#id_source", str(luna.pk))
    page.select_option("#id_target", str(batman.pk))
    page.fill("#id_description", "PostgreSQL on 5432")
    page.click("#add-dependency")
    expect(page.locator("#dependencies")).to_contain_text("PostgreSQL on 5432")
    assert Dependency.objects.filter(source_host=hosts["luna"], target_host=hosts["batman"]).exists()
    page.click("#group-waves")
    expect(page.locator(".wave")).to_have_count(1)
    expect(page.locator("#wave-1 li").first).to_contain_text("batman")
    page.click("#to-targets")

    # 4. Targets: the account, a DNS zone and luna's disk (its exported image).
    page.select_option("#id_account", str(embedded_account.pk))
    page.fill("#id_dns_zone", "corp.example.")
    page.select_option(f"#id_w{luna.pk}-disk", str(disk))  # listed: an image under a declared root
    page.click("#to-review")

    # 5. Review: everything that will happen, with the cost; start.
    expect(page.locator("#review-table")).to_contain_text("Replicate the disk (initial)")
    expect(page.locator("#review-table")).to_contain_text("Cutover")
    expect(page.locator("#review-problems")).to_have_count(0)
    page.click("#start-run")

    # The run page: replication on the worker, then waiting for cutover.
    run = Run.objects.get(plan=plan)
    page.wait_for_url(f"**{reverse('migrations_tool:run_detail', args=[run.pk])}")
    expect(page.locator("#run-status")).to_have_attribute("data-state", "waiting", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#run-steps")).to_contain_text("1.0 MB of 1.0 MB")
    expect(page.locator("#run-log")).to_contain_text("Replicate the disk")

    page.click("#run-test_cutover")
    expect(page.locator("#run-status")).to_have_attribute("data-state", "waiting", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#run-steps")).to_contain_text("test_cutover")
    expect(page.locator("#run-log")).to_contain_text("Launched")

    page.click("#run-cutover")
    expect(page.locator("#run-status")).to_have_attribute("data-state", "done", timeout=RUN_TIMEOUT_MS)
    luna.refresh_from_db()
    assert luna.status == "migrated" and luna.cloud_instance_id.startswith("i-")
    expect(page.locator(f"#workload-{luna.pk}")).to_contain_text(luna.cloud_instance_id)
    expect(page.locator(f"#workload-{luna.pk} .progress-bar")).to_have_text("100%")

    page.click("#run-finalize")
    expect(page.locator(f"#workload-{luna.pk}")).to_contain_text("Finalized", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#run-rollback")).to_have_count(0)

    # The inventory: luna is migrated and says where it runs now.
    page.goto(hosts["luna"].get_absolute_url())
    expect(page.locator("#host-status")).to_contain_text("Migrated")
    expect(page.locator("#host-cloud-instance")).to_contain_text(luna.cloud_instance_id)
