"""The embedded cloud for the tests: a real moto server (`manage.py cloud_server`) in a
subprocess on a free loopback port, one per test session (and xdist worker), its state
reset before each test that uses it. No mock_aws: every call crosses HTTP."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cloud.models import CloudAccount
from cloud.services.prices import price_table

BASE_DIR = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def moto_post(endpoint, path, body=b""):
    # text/plain: moto reads reset-auth's number from the raw body
    request = urllib.request.Request(endpoint + path, data=body, method="POST", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"{}")


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    """The endpoint URL of a moto server started with our own `cloud_server` command."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "cloud_server.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "manage.py", "cloud_server", "--port", str(port)], cwd=BASE_DIR,
                            env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                moto_post(endpoint, "/moto-api/reset")
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"The moto server did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.2)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def cloud(moto_server):
    """The moto server, emptied (and with IAM checks off) before the test."""
    moto_post(moto_server, "/moto-api/reset-auth", b"inf")
    moto_post(moto_server, "/moto-api/reset")
    return moto_server


@pytest.fixture(autouse=True)
def few_retries(settings):
    """One attempt per AWS call in tests: failures show at once."""
    settings.OPSCONSOLE_CLOUD_MAX_ATTEMPTS = 1


@pytest.fixture(autouse=True)
def own_var_dir(settings, tmp_path):
    """Refreshed price tables go to (and are read from) this test's own var/."""
    settings.VAR_DIR = tmp_path


@pytest.fixture
def embedded_account(db, cloud):
    return CloudAccount.objects.create(name="Embedded", region="us-east-1", auth_mode="keys",
                                       access_key_id="AKIATESTTESTTEST0000", secret_access_key="test-secret",
                                       endpoint_url=cloud, is_embedded=True)


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
