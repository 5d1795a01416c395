"""EC2 calls of a rehost: an AMI from an EBS snapshot, an instance from the AMI, and
stopping / terminating it. Failures are cloud.drivers.aws.CloudError, quota and
instance type refusals explained (cloud.drivers.limits).

    wait_snapshot_completed(account, snapshot_id)            # CompleteSnapshot is asynchronous on AWS
    ami_id = find_image(account, name) or register_image(account, name, snapshot_id, volume_size_gib)
    instance = run_instance(account, ami_id, "m5.large", subnet="subnet-…", security_group="web",
                            key_name="ops", tags={"Name": "saturn"})   # {"InstanceId", "PrivateIpAddress", …}
    stop_instance(account, instance_id); terminate_instance(account, instance_id)
"""

import time
from contextlib import contextmanager

from . import aws
from .limits import explained_limits


def ec2_client(account, **client_options):
    return aws.client(account, "ec2", **client_options)


def register_image(account, name, snapshot_id, volume_size_gib, *, description="", architecture="x86_64",
                   boot_mode="legacy-bios"):
    """An HVM AMI whose root volume (/dev/xvda, gp3) is made from the snapshot."""
    with explained_limits(account, "ec2 RegisterImage"):
        answer = ec2_client(account).register_image(
            Name=name[:128], Description=description[:255], Architecture=architecture, VirtualizationType="hvm",
            RootDeviceName="/dev/xvda", EnaSupport=True, BootMode=boot_mode,
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {
                "SnapshotId": snapshot_id, "VolumeSize": volume_size_gib, "VolumeType": "gp3",
                "DeleteOnTermination": True}}],
        )
    return answer["ImageId"]


def wait_snapshot_completed(account, snapshot_id, timeout=1800, poll_seconds=5):
    """Wait until EC2 shows the snapshot completed (after CompleteSnapshot, AWS still
    processes it for a while; an AMI needs it done)."""
    deadline = time.monotonic() + timeout
    while True:
        with explained_limits(account, "ec2 DescribeSnapshots"):
            found = ec2_client(account).describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
        state = found[0].get("State", "") if found else "missing"
        if state == "completed":
            return
        if state in ("error", "missing") or time.monotonic() >= deadline:
            raise aws.CloudError(f"The snapshot {snapshot_id} is {state}"
                                 + (f" after {timeout} s" if state not in ("error", "missing") else "")
                                 + ": an image cannot be made from it.", code=f"snapshot-{state}",
                                 operation="ec2 DescribeSnapshots")
        time.sleep(poll_seconds)


def find_image(account, name):
    """The id of this account's AMI called name, or None."""
    with explained_limits(account, "ec2 DescribeImages"):
        images = ec2_client(account).describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [name]}])
    return images["Images"][0]["ImageId"] if images.get("Images") else None


def images_named(account, prefix):
    """{AMI id: name} of this account's AMIs whose name starts with prefix."""
    with explained_limits(account, "ec2 DescribeImages"):
        images = ec2_client(account).describe_images(Owners=["self"],
                                                     Filters=[{"Name": "name", "Values": [f"{prefix}*"]}])
    return {image["ImageId"]: image.get("Name", "") for image in images.get("Images", [])}


def deregister_image(account, ami_id):
    """Deregister an AMI; one that is gone already counts as done."""
    with _gone_is_done("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"), \
            explained_limits(account, "ec2 DeregisterImage"):
        ec2_client(account).deregister_image(ImageId=ami_id)


def delete_snapshot(account, snapshot_id):
    """Delete an EBS snapshot; one that is gone already counts as done."""
    with _gone_is_done("InvalidSnapshot.NotFound"), explained_limits(account, "ec2 DeleteSnapshot"):
        ec2_client(account).delete_snapshot(SnapshotId=snapshot_id)


@contextmanager
def _gone_is_done(*codes):
    try:
        yield
    except aws.CloudError as exc:
        if exc.code not in codes:
            raise


def check_instance_type(account, instance_type, client=None):
    """Raise a CloudError that says so when the region does not offer the type."""
    with explained_limits(account, "ec2 DescribeInstanceTypes"):
        offered = (client or ec2_client(account)).describe_instance_types(InstanceTypes=[instance_type])
    if not offered.get("InstanceTypes"):
        raise aws.CloudError(f"The instance type {instance_type} is not offered in {account.region}: choose "
                             f"another type or region.", code="InvalidInstanceType",
                             operation="ec2 DescribeInstanceTypes")


def run_instance(account, ami_id, instance_type, *, subnet=None, security_group=None, key_name=None, tags=None):
    """Launch one instance; subnet and security_group are ids or Name tags / group names.
    Returns the instance as run_instances described it."""
    client = ec2_client(account)
    check_instance_type(account, instance_type, client)
    params = {"ImageId": ami_id, "InstanceType": instance_type, "MinCount": 1, "MaxCount": 1}
    if subnet:
        params["SubnetId"] = _subnet_id(account, client, subnet)
    if security_group:
        params["SecurityGroupIds"] = [_security_group_id(account, client, security_group, params.get("SubnetId"))]
    if key_name:
        params["KeyName"] = key_name
    if tags:
        params["TagSpecifications"] = [{"ResourceType": "instance", "Tags": [
            {"Key": key, "Value": str(value)} for key, value in tags.items()]}]
    with explained_limits(account, "ec2 RunInstances"):
        return client.run_instances(**params)["Instances"][0]


def stop_instance(account, instance_id):
    with explained_limits(account, "ec2 StopInstances"):
        ec2_client(account).stop_instances(InstanceIds=[instance_id])


def terminate_instance(account, instance_id):
    with explained_limits(account, "ec2 TerminateInstances"):
        ec2_client(account).terminate_instances(InstanceIds=[instance_id])


def _subnet_id(account, client, subnet):
    if subnet.startswith("subnet-"):
        return subnet
    with explained_limits(account, "ec2 DescribeSubnets"):
        found = client.describe_subnets(Filters=[{"Name": "tag:Name", "Values": [subnet]}])["Subnets"]
    if not found:
        raise aws.CloudError(f"No subnet is named {subnet!r} in {account.region}.", code="InvalidSubnet",
                             operation="ec2 DescribeSubnets")
    return found[0]["SubnetId"]


def _security_group_id(account, client, group, subnet_id):
    if group.startswith("sg-"):
        return group
    filters = [{"Name": "group-name", "Values": [group]}]
    if subnet_id:
        with explained_limits(account, "ec2 DescribeSubnets"):
            vpc = client.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["VpcId"]
        filters.append({"Name": "vpc-id", "Values": [vpc]})
    with explained_limits(account, "ec2 DescribeSecurityGroups"):
        found = client.describe_security_groups(Filters=filters)["SecurityGroups"]
    if not found:
        raise aws.CloudError(f"No security group is named {group!r} in {account.region}.", code="InvalidGroup",
                             operation="ec2 DescribeSecurityGroups")
    return found[0]["GroupId"]
