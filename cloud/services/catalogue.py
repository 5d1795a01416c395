"""The instance type catalogue: the EC2 instance types an account's region really offers
(describe_instance_types), cached in the database per region.

    refresh_instance_types(account, recorder)   # a job: cloud.tasks.refresh_instance_types_job
    catalogue_specs("us-east-1")                # {name: InstanceType} for cloud.services.sizing
"""

from django.db import transaction
from django.utils import timezone

from ..drivers import aws
from ..models import InstanceType

SAVED_FIELDS = ["family", "generation", "vcpus", "memory_mib", "burstable", "bare_metal", "architecture",
                "refreshed_at"]


def instance_type_from_aws(region, described, now):
    """An (unsaved) InstanceType from one entry of describe_instance_types."""
    name = described["InstanceType"]
    return InstanceType(
        region=region, name=name, family=name.split(".", 1)[0],
        generation=InstanceType.Generation.CURRENT if described.get("CurrentGeneration") else InstanceType.Generation.PREVIOUS,
        vcpus=described.get("VCpuInfo", {}).get("DefaultVCpus", 0),
        memory_mib=described.get("MemoryInfo", {}).get("SizeInMiB", 0),
        burstable=bool(described.get("BurstablePerformanceSupported")),
        bare_metal=bool(described.get("BareMetal")),
        architecture=",".join(described.get("ProcessorInfo", {}).get("SupportedArchitectures", [])),
        refreshed_at=now,
    )


def refresh_instance_types(account, recorder=None):
    """Replace the catalogue of the account's region with what AWS describes now.

    Raises cloud.drivers.aws.CloudError when AWS cannot be asked (the catalogue is then
    left as it was). Returns {"region", "types", "added", "removed"}."""
    region = account.region
    _progress(recorder, 5, f"Asking {aws.where(account)} for its instance types")
    now = timezone.now()
    fetched = {}
    for described in aws.instance_types(account):
        fetched[described["InstanceType"]] = instance_type_from_aws(region, described, now)
    if not fetched:
        raise aws.CloudError(f"{aws.where(account)} described no instance types in {region}.", code="empty")
    _progress(recorder, 70, f"Saving {len(fetched)} instance types of {region}")
    with transaction.atomic():
        known = set(InstanceType.objects.filter(region=region).values_list("name", flat=True))
        gone = known - set(fetched)
        InstanceType.objects.filter(region=region, name__in=gone).delete()
        InstanceType.objects.bulk_create(
            fetched.values(), batch_size=500, update_conflicts=True, unique_fields=["region", "name"],
            update_fields=SAVED_FIELDS,
        )
    if recorder:
        recorder.log(f"{len(fetched)} instance types in {region}: {len(set(fetched) - known)} new, {len(gone)} gone")
    return {"region": region, "types": len(fetched), "added": len(set(fetched) - known), "removed": len(gone)}


def catalogue_specs(region):
    """{name: InstanceType} of the region (empty when never refreshed), in one query."""
    return {t.name: t for t in InstanceType.objects.filter(region=region)}


def _progress(recorder, percent, message):
    if recorder:
        recorder.progress(percent, message)
