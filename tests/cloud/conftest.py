"""Settings for the cloud tests. The moto server fixtures (`moto_server`, `cloud`,
`embedded_account`) are in tests/fixtures/cloud.py, loaded for the whole suite."""

import json
from pathlib import Path

import pytest

from cloud.services.prices import price_table
from tests.fixtures.cloud import free_port, moto_post  # noqa: F401  helpers, not fixtures (free_port for tests)

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def few_retries(settings):
    """One attempt per AWS call in tests: failures show at once."""
    settings.OPSCONSOLE_CLOUD_MAX_ATTEMPTS = 1


@pytest.fixture(autouse=True)
def own_var_dir(settings, tmp_path):
    """Refreshed price tables go to (and are read from) this test's own var/."""
    settings.VAR_DIR = tmp_path


@pytest.fixture
def iam_enforced(cloud):
    """moto with its IAM checks on: only the access key made here is accepted (with its
    secret). Yields (access key id, secret); the checks are switched off afterwards."""
    import boto3

    admin = {"region_name": "us-east-1", "endpoint_url": cloud, "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
             "aws_secret_access_key": "bootstrap"}
    moto_post(cloud, "/moto-api/reset-auth", b"3")  # the next three calls are free: make a user and its key
    iam = boto3.client("iam", **admin)
    iam.create_user(UserName="opsconsole")
    iam.put_user_policy(UserName="opsconsole", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="opsconsole")["AccessKey"]
    yield key["AccessKeyId"], key["SecretAccessKey"]
    moto_post(cloud, "/moto-api/reset-auth", b"inf")


@pytest.fixture
def shipped_prices():
    return price_table("us-east-1")


@pytest.fixture
def closed_port():
    """A loopback port with nothing listening: a connection is refused at once."""
    return free_port()
