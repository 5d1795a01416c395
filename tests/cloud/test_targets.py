"""What a launch will use, asked of the embedded cloud (moto's server over HTTP) by name:
the default VPC's subnet, security groups, key pairs, instance types and DNS zones; and
`cloud_server` making what the embedded account's defaults name when it starts."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3

from cloud.drivers import aws, ec2
from cloud.models import CloudAccount
from cloud.services.targets import target_problems

from .conftest import free_port

BASE_DIR = Path(__file__).resolve().parents[2]


def test_default_names_the_default_vpc_subnet_and_its_default_group(embedded_account):
    client = aws.client(embedded_account, "ec2")
    subnet = ec2.subnet_id(embedded_account, "default")
    described = client.describe_subnets(SubnetIds=[subnet])["Subnets"][0]
    assert described["DefaultForAz"] and not described.get("Tags")  # found though it has no Name tag
    group = ec2.security_group_id(embedded_account, "default", subnet)
    assert client.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["VpcId"] == described["VpcId"]


def test_a_subnet_named_default_by_its_tag_wins(embedded_account):
    client = aws.client(embedded_account, "ec2")
    vpc = client.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    tagged = client.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", TagSpecifications=[
        {"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": "default"}]}])["Subnet"]["SubnetId"]
    assert ec2.subnet_id(embedded_account, "default") == tagged


def test_every_missing_target_is_one_sentence(embedded_account):
    client = aws.client(embedded_account, "ec2")
    client.create_key_pair(KeyName="ops")
    assert target_problems(embedded_account, subnet="default", security_group="default", key_pair="ops",
                           instance_types=["m5.large", "t3.micro"]) == []
    problems = target_problems(embedded_account, subnet="subnet-0123456789abcdef0",
                               security_group="sg-0123456789abcdef0", key_pair="nokey",
                               instance_types=["m99.large", "m5.large"], dns_zone="nowhere.example.")
    assert problems == [
        "There is no subnet subnet-0123456789abcdef0 in us-east-1.",
        "There is no security group sg-0123456789abcdef0 in us-east-1.",
        "No key pair is named 'nokey' in us-east-1: import a public key under that name in EC2, or choose another "
        "key pair.",
        "The instance type m99.large is not offered in us-east-1: choose another type or region.",
        "There is no Route 53 hosted zone nowhere.example. in this account.",
    ]


def test_an_unreachable_cloud_is_one_problem_not_one_per_target(db, closed_port):
    account = CloudAccount(name="Gone", region="us-east-1", auth_mode="keys", access_key_id="AKIATESTTESTTEST0000",
                           secret_access_key="x", endpoint_url=f"http://127.0.0.1:{closed_port}")
    problems = target_problems(account, subnet="default", security_group="default", key_pair="ops",
                               instance_types=["m5.large"], dns_zone="corp.example.")
    assert len(problems) == 1 and problems[0].startswith(f"Cannot reach http://127.0.0.1:{closed_port}")


def test_cloud_server_makes_the_embedded_key_pair_when_it_starts(tmp_path):
    port = free_port()
    log_path = tmp_path / "cloud_server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "manage.py", "cloud_server", "--port", str(port)], cwd=BASE_DIR,
                                env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while "Embedded cloud prepared" not in log_path.read_text():
                assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.2)
            assert "key pair opsconsole in us-east-1" in log_path.read_text()
            client = boto3.client("ec2", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
                                  aws_access_key_id="AKIATESTTESTTEST0000", aws_secret_access_key=uuid.uuid4().hex)
            assert [pair["KeyName"] for pair in client.describe_key_pairs()["KeyPairs"]] == ["opsconsole"]
        finally:
            proc.terminate()
            proc.wait(timeout=20)
