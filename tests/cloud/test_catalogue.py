"""The instance type catalogue, read from the embedded cloud's describe_instance_types."""

import pytest
from django.db import transaction
from django.urls import reverse

from cloud.drivers import aws
from cloud.models import CloudAccount, InstanceType
from cloud.services import accounts
from cloud.services.catalogue import catalogue_specs, refresh_instance_types
from core.models import Job
from tests.conftest import token_client, wait_for


def described_by_aws(account):
    """What the server says, read directly through the factory (no catalogue code)."""
    return {t["InstanceType"]: t for t in aws.instance_types(account)}


def test_refresh_stores_every_type_the_region_offers_and_again_changes_nothing(embedded_account):
    stale = InstanceType.objects.create(region="us-east-1", name="x9.huge", family="x9", vcpus=1, memory_mib=1,
                                        architecture="x86_64")
    other_region = InstanceType.objects.create(region="eu-west-1", name="m7i.large", family="m7i", vcpus=2,
                                               memory_mib=8192, architecture="x86_64")
    result = refresh_instance_types(embedded_account)

    described = described_by_aws(embedded_account)
    assert len(described) > 1000
    assert result == {"region": "us-east-1", "types": len(described), "added": len(described), "removed": 1}
    stored = catalogue_specs("us-east-1")
    assert set(stored) == set(described)
    assert not InstanceType.objects.filter(pk=stale.pk).exists()
    assert InstanceType.objects.filter(pk=other_region.pk).exists()  # another region is left alone
    for name in ("m7i.large", "t3.micro", "m5.metal", "c7i.48xlarge", "m6g.large"):
        aws_view, ours = described[name], stored[name]
        assert ours.vcpus == aws_view["VCpuInfo"]["DefaultVCpus"]
        assert ours.memory_mib == aws_view["MemoryInfo"]["SizeInMiB"]
        assert ours.current_generation == bool(aws_view["CurrentGeneration"])
        assert ours.burstable == bool(aws_view["BurstablePerformanceSupported"])
        assert ours.bare_metal == bool(aws_view["BareMetal"])
        assert ours.architecture == ",".join(aws_view["ProcessorInfo"]["SupportedArchitectures"])
    assert stored["t3.micro"].burstable and stored["m5.metal"].bare_metal
    assert "arm64" in stored["m6g.large"].architecture

    again = refresh_instance_types(embedded_account)  # nothing changed on the AWS side
    assert (again["added"], again["removed"], again["types"]) == (0, 0, len(described))
    assert InstanceType.objects.filter(region="us-east-1").count() == len(described)


def test_an_unreachable_account_leaves_the_catalogue_as_it_was(db, embedded_account, closed_port):
    InstanceType.objects.create(region="us-east-1", name="m7i.large", family="m7i", vcpus=2, memory_mib=8192,
                                architecture="x86_64")
    embedded_account.endpoint_url = f"http://127.0.0.1:{closed_port}"
    with pytest.raises(aws.CloudError, match=f"Cannot reach http://127.0.0.1:{closed_port}"):
        refresh_instance_types(embedded_account)
    assert list(InstanceType.objects.values_list("name", flat=True)) == ["m7i.large"]


@pytest.mark.worker
def test_refresh_is_a_job_run_by_a_real_worker(celery_worker_process, operator, cloud):
    account = CloudAccount.objects.create(name="Embedded", region="us-east-1", access_key_id="AKIATEST",
                                          secret_access_key="test", endpoint_url=cloud, is_embedded=True)
    response = token_client(operator).post(f"/api/cloud/accounts/{account.pk}/refresh-instance-types/")
    assert response.status_code == 202, response.content
    job_id = response.json()["job"]
    assert response.json()["url"] == reverse("job-detail", args=[job_id])
    job = wait_for(lambda: Job.objects.filter(pk=job_id, state__in=Job.FINISHED_STATES).first(), timeout=120)
    assert job is not None, "the job did not finish"
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.progress == 100
    assert job.result["types"] == InstanceType.objects.filter(region="us-east-1").count() > 1000
    assert "instance types in us-east-1" in job.log


@pytest.mark.worker
def test_failed_connection_test_fails_its_job_with_the_reason(celery_worker_process, operator, closed_port):
    account = CloudAccount.objects.create(name="Nowhere", region="us-east-1", access_key_id="AKIATEST",
                                          secret_access_key="test", endpoint_url=f"http://127.0.0.1:{closed_port}")
    with transaction.atomic():
        job = accounts.request_connection_test(account, user=operator)
    job = wait_for(lambda: Job.objects.filter(pk=job.pk, state__in=Job.FINISHED_STATES).first(), timeout=60)
    assert job is not None and job.state == Job.State.FAILED
    assert job.message.startswith(f"Cannot reach http://127.0.0.1:{closed_port}")
    account.refresh_from_db()
    assert account.last_check_ok is False
