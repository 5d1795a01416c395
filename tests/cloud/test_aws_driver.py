"""The one boto3 client factory and the connection test, against the real moto server."""

import http.server
import threading
from types import SimpleNamespace

import pytest

from cloud.drivers import aws
from cloud.models import CloudAccount
from cloud.services.accounts import test_connection as check_connection


def account_like(**overrides):
    values = {"region": "eu-west-1", "auth_mode": "keys", "access_key_id": "AKIAEXAMPLEEXAMPLE00",
              "secret_access_key": "s3cret", "endpoint_url": ""}
    return SimpleNamespace(**{**values, **overrides})


def test_client_goes_to_the_account_endpoint_with_its_region_and_keys(embedded_account, cloud):
    ec2 = aws.client(embedded_account, "ec2")
    assert ec2.meta.endpoint_url == cloud
    assert ec2.meta.region_name == "us-east-1"
    vpc_id = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    # another client of the factory (another service object) sees what the first made: same server
    seen = aws.client(embedded_account, "ec2").describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    assert [vpc["CidrBlock"] for vpc in seen] == ["10.99.0.0/16"]
    credentials = ec2._request_signer._credentials
    assert (credentials.access_key, credentials.secret_key) == ("AKIATESTTESTTEST0000", "test-secret")


def test_without_an_endpoint_the_client_is_real_aws_of_the_account_region():
    ec2 = aws.client(account_like(region="eu-west-1"), "ec2")
    assert ec2.meta.endpoint_url == "https://ec2.eu-west-1.amazonaws.com"
    assert ec2.meta.config.s3 is None  # path-style addressing only for endpoint overrides


def test_environment_mode_takes_credentials_from_the_environment(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENVIRONMENT0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-env")
    aws._thread_local.__dict__.clear()  # a new session reads the environment afresh
    sts = aws.client(account_like(auth_mode="environment", access_key_id="AKIAIGNORED", secret_access_key="no"),
                     "sts")
    assert sts._request_signer._credentials.access_key == "AKIAFROMENVIRONMENT0"


def test_retries_are_few_and_configurable(settings):
    """A local server answering 503 (retryable) counts the attempts the client makes."""
    hits = []

    class Unavailable(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            hits.append(self.path)
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    account = account_like(endpoint_url=f"http://127.0.0.1:{server.server_port}")
    try:
        for attempts in (1, 2):
            settings.OPSCONSOLE_CLOUD_MAX_ATTEMPTS = attempts
            hits.clear()
            with pytest.raises(aws.CloudError) as failure:
                aws.caller_identity(account)
            assert len(hits) == attempts
            assert "sts GetCallerIdentity" in str(failure.value)
        hits.clear()
        with pytest.raises(aws.CloudError):
            aws.caller_identity(account, max_attempts=3)  # per call, whatever the setting
        assert len(hits) == 3
    finally:
        server.shutdown()
        server.server_close()


def test_unreachable_endpoint_is_a_clear_error(db, closed_port):
    port = closed_port
    account = CloudAccount.objects.create(name="Nowhere", region="us-east-1", access_key_id="AKIAX",
                                          secret_access_key="x", endpoint_url=f"http://127.0.0.1:{port}")
    with pytest.raises(aws.CloudError) as failure:
        aws.region_names(account)
    assert failure.value.code == "unreachable"
    assert f"Cannot reach http://127.0.0.1:{port}" in str(failure.value)
    assert "ec2 DescribeRegions" in str(failure.value)


def test_connection_test_against_the_embedded_cloud(embedded_account):
    check = check_connection(embedded_account)
    assert check.ok, check.message
    assert check.aws_account_id == "123456789012"  # moto's account
    assert check.regions > 10
    embedded_account.refresh_from_db()
    assert embedded_account.last_check_ok is True
    assert embedded_account.aws_account_id == "123456789012"
    assert embedded_account.last_checked_at is not None


def test_wrong_secret_and_unknown_key_are_refused_with_a_clear_error(embedded_account, iam_enforced):
    key_id, secret = iam_enforced
    embedded_account.access_key_id, embedded_account.secret_access_key = key_id, secret
    good = check_connection(embedded_account, save=False)
    assert good.ok, good.message
    assert good.arn.endswith(":user/opsconsole")

    embedded_account.secret_access_key = "not-the-secret"
    wrong_secret = check_connection(embedded_account)
    assert not wrong_secret.ok
    assert "AWS refused the credentials (SignatureDoesNotMatch)" in wrong_secret.message
    assert "check the access key id and the secret access key" in wrong_secret.message

    embedded_account.access_key_id = "AKIANOSUCHKEY0000000"
    unknown = check_connection(embedded_account)
    assert "AWS refused the credentials (InvalidClientTokenId)" in unknown.message
    embedded_account.refresh_from_db()
    assert embedded_account.last_check_ok is False
    assert "InvalidClientTokenId" in embedded_account.last_check_message


def test_unreachable_account_fails_its_check_without_raising(db, closed_port):
    account = CloudAccount.objects.create(name="Gone", region="us-east-1", access_key_id="AKIAX",
                                          secret_access_key="x", endpoint_url=f"http://127.0.0.1:{closed_port}")
    check = check_connection(account)
    assert not check.ok
    assert "Cannot reach" in check.message
    account.refresh_from_db()
    assert account.last_check_ok is False


def test_region_not_enabled_fails_the_check(embedded_account, monkeypatch):
    """Opt-in regions (af-south-1...) are missing from DescribeRegions until enabled. moto
    lists every region, so the answer of such an account is stood in for here."""
    embedded_account.region = "af-south-1"
    monkeypatch.setattr(aws, "region_names", lambda account, **options: ["eu-west-1", "us-east-1"])
    check = check_connection(embedded_account, save=False)
    assert not check.ok
    assert check.aws_account_id == "123456789012"  # the credentials themselves worked (real sts call)
    assert "region af-south-1 is not enabled" in check.message


def test_unimplemented_call_is_explained(embedded_account):
    """moto answers calls it does not implement with an HTML 500 page."""
    with pytest.raises(aws.CloudError) as failure:
        with aws.translated_errors(embedded_account, "ec2 ImportImage"):
            aws.client(embedded_account, "ec2").import_image(Description="disk")
    assert failure.value.code in ("bad-response", "500")
    assert "does not implement this call" in str(failure.value)


def test_the_embedded_cloud_refuses_unknown_instance_types_like_aws(embedded_account):
    """cloud_server starts moto with MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION=true."""
    ec2 = aws.client(embedded_account, "ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    launched = ec2.run_instances(ImageId=image, InstanceType="m7i.large", MinCount=1, MaxCount=1)
    assert launched["Instances"][0]["InstanceType"] == "m7i.large"
    with pytest.raises(aws.CloudError) as failure:
        with aws.translated_errors(embedded_account, "ec2 RunInstances"):
            ec2.run_instances(ImageId=image, InstanceType="m99.mega", MinCount=1, MaxCount=1)
    assert failure.value.code == "InvalidInstanceType.NotFound"
    assert "m99.mega" in str(failure.value)
