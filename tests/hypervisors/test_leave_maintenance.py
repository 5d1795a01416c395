"""Leaving maintenance returns a hypervisor's host to the status it had before: a spare
stays the spare HA restarts use first."""

import pytest

from hypervisors.models import Hypervisor
from hypervisors.services.maintenance import leave_maintenance
from inventory.models import Host, HostStatus, StatusChange
from inventory.services import change_status


@pytest.fixture
def hypervisor(site, app_role):
    def make(name, status):
        host = Host.objects.create(hostname=name, site=site, role=app_role, status=status)
        return Hypervisor.objects.create(host=host, uri=f"test+tcp://127.0.0.1:9/{name}")
    return make


@pytest.mark.parametrize("before", [HostStatus.SPARE, HostStatus.ACTIVE])
def test_leaving_maintenance_returns_the_status_it_had(hypervisor, operator, before):
    hv = hypervisor("thames", before)
    change_status(hv.host, HostStatus.MAINTENANCE, user=operator, reason="firmware")
    leave_maintenance(hv, user=operator)
    hv.host.refresh_from_db()
    assert hv.host.status == before
    assert hv.host.journal.filter(author=operator, text__contains=f"left maintenance, {before.label.lower()} again")
    assert list(StatusChange.objects.filter(host=hv.host).values_list("old_status", "new_status")) == [
        (HostStatus.MAINTENANCE, before), (before, HostStatus.MAINTENANCE)]


def test_a_spare_that_failed_then_went_to_maintenance_comes_back_a_spare(hypervisor, operator):
    hv = hypervisor("thames", HostStatus.SPARE)
    change_status(hv.host, HostStatus.FAILED, reason="health checks: ping")
    change_status(hv.host, HostStatus.MAINTENANCE, user=operator, reason="repair")
    leave_maintenance(hv, user=operator)
    hv.host.refresh_from_db()
    assert hv.host.status == HostStatus.SPARE


def test_a_status_changed_around_the_history_comes_back_active(hypervisor, operator):
    hv = hypervisor("thames", HostStatus.SPARE)
    change_status(hv.host, HostStatus.MAINTENANCE, user=operator)
    Host.objects.filter(pk=hv.host.pk).update(status=HostStatus.ACTIVE)  # outside change_status: unrecorded
    Host.objects.filter(pk=hv.host.pk).update(status=HostStatus.MAINTENANCE)
    hv.host.refresh_from_db()
    StatusChange.objects.filter(host=hv.host).update(new_status=HostStatus.FAILED)  # the history no longer matches
    leave_maintenance(hv, user=operator)
    hv.host.refresh_from_db()
    assert hv.host.status == HostStatus.ACTIVE  # what it cannot tell: the lifecycle's default
