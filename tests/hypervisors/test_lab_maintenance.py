from decimal import Decimal

import pytest

from core.jobs import create_job, run_job
from core.models import Job
from hypervisors.models import Hypervisor
from hypervisors.services import maintenance, sync
from inventory.models import Host, JournalEntry
from tests.hypervisors.conftest import start_guest, where_is

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]


def evacuate(hypervisor, parallel=2):
    job = create_job("hypervisors.evacuate", f"Evacuate {hypervisor.name}")
    run_job(job.pk, lambda j, rec: maintenance.enter_maintenance(hypervisor, j, rec, parallel=parallel))
    job.refresh_from_db()
    return job


def test_evacuation_empties_the_host_and_leaves_it_in_maintenance(lab_hypervisors):
    rhine = lab_hypervisors["rhine"]
    guests = [start_guest(rhine, name) for name in ("odin", "hera", "thor")]
    sync.sync_all()

    job = evacuate(rhine)

    assert job.state == Job.State.SUCCEEDED, job.message
    children = list(job.children.all())
    assert len(children) == 3 and all(c.state == Job.State.SUCCEEDED for c in children)
    for guest in guests:
        running, defined = where_is(lab_hypervisors, guest)
        assert len(running) == 1 and running == defined and running != ["rhine"]
    rhine.host.refresh_from_db()
    assert rhine.host.status == "maintenance"
    assert JournalEntry.objects.filter(host=rhine.host, text__contains="Maintenance").exists()

    maintenance.leave_maintenance(rhine)
    assert Host.objects.get(pk=rhine.host.pk).status == "active"


def test_plan_refuses_a_host_without_room_and_moves_nothing(lab_hypervisors):
    rhine = lab_hypervisors["rhine"]
    guest = start_guest(rhine, "batman")
    sync.sync_all()
    # Leave no vCPU room anywhere else: an overcommit ratio that rounds capacity to zero.
    Hypervisor.objects.exclude(pk=rhine.pk).update(cpu_overcommit=Decimal("0.1"))

    plan = maintenance.evacuation_plan(rhine)
    assert plan["moves"] == []
    assert plan["unplaced"][0]["vm"] == "batman"
    assert "needs 1 vCPUs" in plan["unplaced"][0]["reason"]

    job = evacuate(rhine)
    assert job.state == Job.State.FAILED
    assert "Nothing was moved" in job.message
    assert where_is(lab_hypervisors, guest) == (["rhine"], ["rhine"])
    rhine.host.refresh_from_db()
    assert rhine.host.status == "active"
