"""EC2 calls of a rehost: an AMI from an EBS snapshot, an instance from the AMI, and
stopping / terminating it. Failures are cloud.drivers.aws.CloudError, quota and
instance type refusals explained (cloud.drivers.limits).

    wait_snapshot_completed(account, snapshot_id)            # CompleteSnapshot is asynchronous on AWS
    ami_id = find_image(account, name) or register_image(account, name, snapshot_id, volume_size_gib)
    instance = run_instance(account, ami_id, "m5.large", subnet="subnet-…", security_group="web",
                            key_name="ops", tags={"Name": "saturn"})   # {"InstanceId", "PrivateIpAddress", …}
    stop_instance(account, instance_id); terminate_instance(account, instance_id)

What a launch will use, checked before anything starts (each raises a CloudError that says
what is missing): subnet_id(account, "default"), security_group_id(account, "web", subnet),
check_key_pair(account, "ops"), check_instance_type(account, "m5.large").
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
    unoffered = f"The instance type {instance_type} is not offered in {account.region}: choose another type or region."
    with _missing_is(account, "InvalidInstanceType", unoffered), explained_limits(account, "ec2 DescribeInstanceTypes"):
        offered = (client or ec2_client(account)).describe_instance_types(InstanceTypes=[instance_type])
    if not offered.get("InstanceTypes"):
        raise aws.CloudError(unoffered, code="InvalidInstanceType", operation="ec2 DescribeInstanceTypes")


def run_instance(account, ami_id, instance_type, *, subnet=None, security_group=None, key_name=None, tags=None):
    """Launch one instance; subnet and security_group are ids or Name tags / group names.
    Returns the instance as run_instances described it."""
    client = ec2_client(account)
    check_instance_type(account, instance_type, client)
    params = {"ImageId": ami_id, "InstanceType": instance_type, "MinCount": 1, "MaxCount": 1}
    if subnet:
        params["SubnetId"] = subnet_id(account, subnet, client)
    if security_group:
        params["SecurityGroupIds"] = [security_group_id(account, security_group, params.get("SubnetId"), client)]
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


# A subnet named "default": the default VPC's default subnet (it has no Name tag; AWS and
# the embedded cloud both make one per availability zone).
DEFAULT_SUBNET = "default"


def subnet_id(account, subnet, client=None):
    """The id of the subnet given by its id, its Name tag, or "default" (the default VPC's
    subnet of the first availability zone). A CloudError says so when there is none."""
    client = client or ec2_client(account)
    if subnet.startswith("subnet-"):
        with _missing_is(account, "InvalidSubnetID.NotFound", f"There is no subnet {subnet} in {account.region}."), \
                explained_limits(account, "ec2 DescribeSubnets"):
            return client.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["SubnetId"]
    with explained_limits(account, "ec2 DescribeSubnets"):
        found = client.describe_subnets(Filters=[{"Name": "tag:Name", "Values": [subnet]}])["Subnets"]
        if not found and subnet == DEFAULT_SUBNET:
            found = sorted(client.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"],
                           key=lambda item: item.get("AvailabilityZone", ""))
    if not found:
        raise aws.CloudError(f"No subnet is named {subnet!r} in {account.region}: give a subnet id (subnet-…), the "
                             f"Name tag of a subnet, or \"default\" for the default VPC.", code="InvalidSubnet",
                             operation="ec2 DescribeSubnets")
    return found[0]["SubnetId"]


def security_group_id(account, group, subnet=None, client=None):
    """The id of the security group given by id or name, in the VPC of the subnet id
    `subnet` when one is given (an instance's groups must be in its subnet's VPC)."""
    client = client or ec2_client(account)
    vpc = None
    if subnet:
        with explained_limits(account, "ec2 DescribeSubnets"):
            vpc = client.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"]
    if group.startswith("sg-"):
        missing = f"There is no security group {group} in {account.region}."
        with _missing_is(account, "InvalidGroup.NotFound", missing), \
                explained_limits(account, "ec2 DescribeSecurityGroups"):
            found = client.describe_security_groups(GroupIds=[group])["SecurityGroups"]
        if vpc and found and found[0].get("VpcId") != vpc:
            raise aws.CloudError(f"The security group {group} is in {found[0].get('VpcId')}, not in the subnet's VPC "
                                 f"{vpc}.", code="InvalidGroup", operation="ec2 DescribeSecurityGroups")
        return group
    filters = [{"Name": "group-name", "Values": [group]}] + ([{"Name": "vpc-id", "Values": [vpc]}] if vpc else [])
    with explained_limits(account, "ec2 DescribeSecurityGroups"):
        found = client.describe_security_groups(Filters=filters)["SecurityGroups"]
    if not found:
        where = f"the subnet's VPC {vpc}" if vpc else account.region
        raise aws.CloudError(f"No security group is named {group!r} in {where}.", code="InvalidGroup",
                             operation="ec2 DescribeSecurityGroups")
    return found[0]["GroupId"]


def check_key_pair(account, name, client=None):
    """Raise a CloudError that says so when the region has no key pair called name."""
    with _missing_is(account, "InvalidKeyPair.NotFound",
                     f"No key pair is named {name!r} in {account.region}: import a public key under that name "
                     f"in EC2, or choose another key pair."), explained_limits(account, "ec2 DescribeKeyPairs"):
        (client or ec2_client(account)).describe_key_pairs(KeyNames=[name])


def ensure_key_pair(account, name):
    """Create the key pair when the region has none of that name (the embedded cloud's
    demo; its private key is not kept: nobody logs in to a demo instance). True if made."""
    try:
        check_key_pair(account, name)
        return False
    except aws.CloudError as exc:
        if exc.code != "InvalidKeyPair.NotFound":
            raise
    with explained_limits(account, "ec2 CreateKeyPair"):
        ec2_client(account).create_key_pair(KeyName=name)
    return True


@contextmanager
def _missing_is(account, code, message):
    """A CloudError of `code` (something named that does not exist) told as `message`."""
    try:
        yield
    except aws.CloudError as exc:
        if exc.code != code:
            raise
        raise aws.CloudError(message, code=code, operation=exc.operation) from exc
