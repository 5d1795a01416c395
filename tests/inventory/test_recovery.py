"""Replacing a failed physical host by a spare: the candidate chosen and the rejected ones
(and why), the steps a person confirms, the lifecycle transitions and the runbook."""

import pytest
from django.core.exceptions import ValidationError

from core.jobs import request_cancel
from core.models import Job
from health.models import HealthState, HostHealth
from hypervisors.models import Hypervisor
from inventory.models import Host, Replacement, Role, Site, Tag
from inventory.services import recovery, runbooks
from inventory.tasks import replacement_step_job

from .spares import make_host

pytestmark = pytest.mark.django_db


@pytest.fixture
def marvin(site, rack, mail_role):
    host = make_host("marvin", site, cores=8, memory_gib=64, disks=(2000, 2000), status="active", role=mail_role,
                     rack=rack, owner="IT operations", mgmt_address="10.10.40.25")
    host.tags.add(Tag.objects.create(name="prod", slug="prod"), Tag.objects.create(name="backup", slug="backup"))
    return host


def run_confirmed(replacement, number, user, django_capture_on_commit_callbacks, **choices):
    """Confirm a step as `user` and run its job here (the task body, without a broker)."""
    with django_capture_on_commit_callbacks(execute=False):
        job = recovery.confirm_step(replacement, number, user, **choices)
    replacement_step_job.run(job.pk)
    job.refresh_from_db()
    return job


# --- choosing a spare ----------------------------------------------------------------------------


def test_the_smallest_spare_that_fits_is_chosen_and_every_other_says_why_not(
        site, rack, marvin, django_assert_max_num_queries):
    other_site = Site.objects.create(name="Frankfurt", slug="fra1")
    make_host("tiny", site, cores=4, memory_gib=32, disks=(8000,))
    make_host("smalldisk", site, cores=16, memory_gib=128, disks=(480, 480))
    make_host("big", site, cores=64, memory_gib=1024, disks=(8000,))
    make_host("snug", site, cores=8, memory_gib=64, disks=(4000,))
    make_host("faraway", other_site, cores=64, memory_gib=1024, disks=(8000,))
    sick = make_host("sick", site, cores=32, memory_gib=256, disks=(8000,))
    HostHealth.objects.create(host=sick, state=HealthState.SUSPECT, since="2026-01-01T00:00Z")
    hv_spare = make_host("hv9", site, cores=64, memory_gib=1024, disks=(8000,))
    Hypervisor.objects.create(host=hv_spare, uri="test+tcp://127.0.0.1:1/default")
    make_host("busy", site, cores=64, memory_gib=1024, disks=(8000,), status="active")  # not a spare at all

    with django_assert_max_num_queries(3):
        rows = {row["hostname"]: row for row in recovery.evaluate_candidates(marvin)}

    assert "busy" not in rows
    assert [name for name, row in rows.items() if row["chosen"]] == ["snug"]
    assert rows["big"]["fits"] and not rows["big"]["chosen"]  # fits, but keep it for a bigger failure
    assert rows["tiny"]["reasons"] == ["4 CPU cores < 8", "32 GiB memory < 64 GiB"]
    assert rows["smalldisk"]["reasons"] == ["960 GB disk < 4000 GB"]
    assert rows["faraway"]["reasons"] == ["at Frankfurt, not at Amsterdam DC1"]
    assert rows["sick"]["reasons"] == ["its health checks say suspect"]
    assert rows["hv9"]["reasons"] == ["a spare hypervisor, kept for restarting VMs of a failed hypervisor"]


def test_a_spare_promised_to_another_replacement_is_rejected(site, marvin, mail_role):
    make_host("spare-01", site, cores=16, memory_gib=128, disks=(8000,))
    directory = Role.objects.create(name="Directory server", slug="directory")
    delphi = make_host("delphi", site, cores=4, memory_gib=16, status="active", role=directory)
    first = recovery.propose_replacement(delphi, {"why": "test"})
    assert first.spare.hostname == "spare-01"

    second = recovery.propose_replacement(marvin, {})
    assert second.spare is None
    assert second.candidates[0]["reasons"] == ["already promised to replace delphi"]
    assert "No spare fits marvin" in recovery.plan_summary(second)


def test_proposal_is_idempotent_changes_nothing_and_says_so_in_the_journal(site, marvin, mail_role):
    spare = make_host("spare-01", site, cores=16, memory_gib=128, disks=(8000,))
    evidence = {"failed_rounds": 3, "checks": [{"check": "ssh", "message": "timed out"}]}

    replacement = recovery.propose_replacement(marvin, evidence)

    assert recovery.propose_replacement(marvin, evidence) == replacement
    assert Replacement.objects.count() == 1
    assert replacement.automatic and replacement.evidence == evidence
    assert (replacement.spare, replacement.new_hostname) == (spare, "zaphod")  # next free name of the pool
    assert "marvin keeps its name" in replacement.naming_note
    marvin.refresh_from_db(), spare.refresh_from_db()
    assert (marvin.status, spare.status, spare.hostname) == ("active", "spare", "spare-01")
    assert f"Replacement #{replacement.pk} proposed by failure detection: spare-01 takes over as zaphod" \
        in marvin.journal.first().text
    steps = list(replacement.steps.values_list("number", "kind", "state", "destructive"))
    assert steps == [(1, "mark_failed", "pending", True), (2, "take_over", "pending", True),
                     (3, "runbook", "pending", False)]


def test_a_hypervisor_is_not_replaced_by_a_spare(site):
    hv = make_host("hv1", site, status="active")
    Hypervisor.objects.create(host=hv, uri="test+tcp://127.0.0.1:1/default")
    with pytest.raises(ValueError, match="hypervisor"):
        recovery.propose_replacement(hv, {})


def test_detection_proposes_nothing_for_a_host_without_a_role(site, operator):
    dead_spare = make_host("spare-07", site, status="failed")
    assert recovery.propose_replacement(dead_spare, {"failed_rounds": 3}) is None
    assert not Replacement.objects.exists()
    assert recovery.propose_replacement(dead_spare, {}, user=operator).requested_by == operator


def test_without_a_naming_scheme_the_spare_keeps_its_name(site):
    role = Role.objects.create(name="File server", slug="files")
    failed = make_host("nas1", site, status="failed", role=role)
    make_host("spare-01", site, cores=16, memory_gib=128, disks=(8000,))
    replacement = recovery.propose_replacement(failed, {})
    assert replacement.new_hostname == "spare-01"
    assert "has no naming scheme" in replacement.naming_note
    # Detection had already marked it failed: step 1 is done, step 2 is next.
    assert recovery.next_step(replacement).number == 2


# --- confirming and running the steps ------------------------------------------------------------


def test_the_whole_flow_moves_the_role_to_the_spare_and_writes_the_runbook(
        site, marvin, operator, django_capture_on_commit_callbacks):
    spare = make_host("spare-01", site, cores=16, memory_gib=128, disks=(8000,), owner="spares pool")
    replacement = recovery.propose_replacement(marvin, {})

    job = run_confirmed(replacement, 1, operator, django_capture_on_commit_callbacks)
    assert job.state == Job.State.SUCCEEDED, job.error
    marvin.refresh_from_db()
    assert marvin.status == "failed"
    replacement.refresh_from_db()
    assert replacement.state == "proposed" and recovery.next_step(replacement).number == 2

    job = run_confirmed(replacement, 2, operator, django_capture_on_commit_callbacks)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.progress == 100 and "Runbook" in job.log

    spare.refresh_from_db()
    assert (spare.hostname, spare.role.slug, spare.status, spare.owner) == ("zaphod", "mail", "active", "IT operations")
    assert set(spare.tags.values_list("slug", flat=True)) == {"prod", "backup"}
    replacement.refresh_from_db()
    assert replacement.state == "done" and replacement.finished_at
    steps = replacement.steps.order_by("number")
    assert [s.state for s in steps] == ["done", "done", "done"]
    assert [s.confirmed_by for s in steps] == [operator, operator, None]  # the runbook needs nobody
    runbook = spare.journal.get(kind="repair").text
    assert runbook == replacement.runbook == marvin.journal.get(kind="repair").text
    assert runbook.startswith("Runbook: restore marvin's service on zaphod (was spare-01) — Mail server, mail runbook")
    assert "confirmed by otto-operator" in runbook and "10.10.40.25" in runbook
    journal = "\n".join(marvin.journal.values_list("text", flat=True))
    assert "step 1 (Mark marvin failed) confirmed by otto-operator" in journal
    assert "Replaced by zaphod (was spare-01)" in journal


def test_a_step_out_of_order_or_twice_is_refused(site, marvin, operator, django_capture_on_commit_callbacks):
    make_host("spare-01", site, cores=16, memory_gib=128, disks=(8000,))
    replacement = recovery.propose_replacement(marvin, {})
    with pytest.raises(ValidationError, match="the next one is step 1"):
        recovery.confirm_step(replacement, 2, operator)
    with django_capture_on_commit_callbacks(execute=False):
        recovery.confirm_step(replacement, 1, operator)
    with pytest.raises(ValidationError, match="already running"):
        recovery.confirm_step(replacement, 1, operator)
    # An operator cancels the job before a worker took it: the step may be confirmed again.
    request_cancel(replacement.steps.get(number=1).job)
    with django_capture_on_commit_callbacks(execute=False):
        assert recovery.confirm_step(replacement, 1, operator).state == Job.State.PENDING


def test_an_impossible_transition_fails_the_step_which_can_be_confirmed_again(
        site, marvin, operator, django_capture_on_commit_callbacks):
    make_host("spare-01", site, cores=16, memory_gib=128, disks=(8000,))
    Host.objects.filter(pk=marvin.pk).update(status="maintenance")  # maintenance -> failed is not allowed
    replacement = recovery.propose_replacement(marvin, {})

    job = run_confirmed(replacement, 1, operator, django_capture_on_commit_callbacks)

    assert job.state == Job.State.FAILED
    assert "cannot go from maintenance to failed" in job.message
    step = replacement.steps.get(number=1)
    assert step.state == "failed" and "maintenance to failed" in step.outcome
    marvin.refresh_from_db()
    assert marvin.status == "maintenance"
    Host.objects.filter(pk=marvin.pk).update(status="active")
    assert run_confirmed(replacement, 1, operator, django_capture_on_commit_callbacks).state == Job.State.SUCCEEDED


def test_the_operator_may_choose_another_fitting_spare_and_name_but_not_a_bad_one(
        site, marvin, operator, django_capture_on_commit_callbacks):
    make_host("spare-01", site, cores=16, memory_gib=128, disks=(8000,))
    other = make_host("spare-02", site, cores=32, memory_gib=256, disks=(8000,))
    small = make_host("spare-03", site, cores=2, memory_gib=8, disks=(100,))
    Host.objects.filter(pk=marvin.pk).update(status="failed")
    replacement = recovery.propose_replacement(marvin, {})

    with pytest.raises(ValidationError) as refused:
        recovery.confirm_step(replacement, 2, operator, spare=small)
    assert "spare-03 cannot take over: 2 CPU cores < 8" in str(refused.value.message_dict["spare"])
    with pytest.raises(ValidationError) as refused:
        recovery.confirm_step(replacement, 2, operator, spare=other, hostname="marvin")
    assert "already the name of a host" in refused.value.message_dict["hostname"][0]
    with pytest.raises(ValidationError) as refused:
        recovery.confirm_step(replacement, 2, operator, spare=other, hostname="Not_A_Name")
    assert "hostname" in refused.value.message_dict

    job = run_confirmed(replacement, 2, operator, django_capture_on_commit_callbacks, spare=other, hostname="trillian")
    assert job.state == Job.State.SUCCEEDED, job.error
    other.refresh_from_db()
    assert (other.hostname, other.status) == ("trillian", "active")


def test_a_spare_taken_meanwhile_fails_the_take_over_and_changes_nothing(
        site, marvin, operator, django_capture_on_commit_callbacks):
    spare = make_host("spare-01", site, cores=16, memory_gib=128, disks=(8000,))
    Host.objects.filter(pk=marvin.pk).update(status="failed")
    replacement = recovery.propose_replacement(marvin, {})
    with django_capture_on_commit_callbacks(execute=False):
        job = recovery.confirm_step(replacement, 2, operator)
    Host.objects.filter(pk=spare.pk).update(status="active")  # someone used it in between

    replacement_step_job.run(job.pk)

    job.refresh_from_db()
    assert job.state == Job.State.FAILED and "no longer a spare" in job.message
    spare.refresh_from_db()
    assert (spare.hostname, spare.role) == ("spare-01", None)
    assert not spare.journal.filter(kind="repair").exists()


def test_a_take_over_cancelled_midway_is_rolled_back(failed, spare, operator, django_capture_on_commit_callbacks):
    replacement = recovery.propose_replacement(failed, {})
    with django_capture_on_commit_callbacks(execute=False):
        job = recovery.confirm_step(replacement, 2, operator)
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)  # seen at the job's first progress report

    replacement_step_job.run(job.pk)

    job.refresh_from_db(), spare.refresh_from_db()
    assert job.state == Job.State.CANCELLED
    assert (spare.hostname, spare.status, spare.role) == ("spare-01", "spare", None)
    assert replacement.steps.get(number=2).state == "failed"
    assert run_confirmed(replacement, 2, operator, django_capture_on_commit_callbacks).state == Job.State.SUCCEEDED


def test_cancel_and_replan(site, marvin, operator):
    replacement = recovery.propose_replacement(marvin, {})
    assert replacement.spare is None
    make_host("spare-new", site, cores=16, memory_gib=128, disks=(8000,))
    recovery.replan(replacement, operator)
    assert replacement.spare.hostname == "spare-new"
    recovery.cancel(replacement, operator)
    assert replacement.state == "cancelled"
    assert recovery.propose_replacement(marvin, {}) != replacement  # a new one may be proposed


# --- runbooks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("slug", "name", "kind", "must_say"), [
    ("directory", "Directory server", "directory",
     ["USN rollback", "FSMO", "metadata", "dcdiag", "systemstaterecovery"]),
    ("db", "Database server", "database", ["pg_promote", "pgbackrest", "pg_is_in_recovery", "5432", "two primaries"]),
    ("mail", "Mail server", "mail", ["/var/mail", "DKIM", "MX", "postqueue", "swaks"]),
    ("web", "Web server", "web", ["load balancer", "443", "TLS certificates"]),
    ("app", "App server", "app", ["CI artifacts", "health endpoint", "secrets"]),
    ("misc", "Printer server", "generic", ["latest backup"]),
])
def test_runbook_is_tailored_to_the_role(site, slug, name, kind, must_say):
    role = Role.objects.create(name=name, slug=slug)
    failed = make_host("oldbox", site, status="failed", role=role, mgmt_address="10.0.0.5")
    new = make_host("newbox", site, cores=16, status="active", role=role)
    assert runbooks.role_kind(role) == kind

    text = runbooks.render(failed, new, "spare-07", "Otto", 12)

    assert text.splitlines()[0] == (f"Runbook: restore oldbox's service on newbox (was spare-07) — {name}, {kind} "
                                    "runbook (replacement #12, confirmed by Otto).")
    for words in must_say:
        assert words in text
    numbers = [int(line.split(".")[0]) for line in text.splitlines() if line[:1].isdigit()]
    assert numbers == list(range(1, len(numbers) + 1))
    assert "10.0.0.5" in text


def test_detections_hook_proposes_a_replacement_for_a_failed_physical_host(failed, spare):
    from health.services import hooks

    evidence = {"failed_rounds": 3, "checks": [{"check": "ssh", "ok": False, "message": "no route to host"}]}
    hooks.on_host_failed(failed, evidence)

    replacement = Replacement.objects.get(failed_host=failed)
    assert replacement.automatic and replacement.evidence == evidence
    assert (replacement.spare, replacement.new_hostname) == (spare, "zaphod")
    assert Host.objects.get(pk=spare.pk).status == "spare"  # proposed only: a person confirms each step
