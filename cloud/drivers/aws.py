"""The one place that talks to AWS.

Every boto3 client of the product comes from `client()`: it takes the account's
region, credentials and endpoint URL. An account with no endpoint URL talks to real
AWS; one with an endpoint (the embedded moto server, a VPC endpoint) talks there.
Switching is configuration, not code.

AWS failures come out as `CloudError`, whose message is a sentence a sysadmin can act
on ("AWS refused the credentials…", "Cannot reach http://…"), never a traceback.

`account` is a cloud.models.CloudAccount, or any object with the same attributes:
region, auth_mode ("keys" or "environment"), access_key_id, secret_access_key and
endpoint_url (empty for real AWS).
"""

import threading
from contextlib import contextmanager

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from .. import conf

KEYS = "keys"

# Error codes with which AWS (and moto with IAM checks on) refuses a key pair.
CREDENTIAL_ERRORS = {
    "InvalidClientTokenId", "SignatureDoesNotMatch", "AuthFailure", "UnrecognizedClientException",
    "InvalidAccessKeyId", "IncompleteSignature", "ExpiredToken", "ExpiredTokenException", "InvalidToken",
}
PERMISSION_ERRORS = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess"}

_thread_local = threading.local()


class CloudError(Exception):
    """An AWS call that failed, told in words. `code` is AWS's error code (or one of
    ours: "unreachable", "timeout", "no-credentials"); `operation` what was being done."""

    def __init__(self, message, code="", operation=""):
        super().__init__(message)
        self.code = code
        self.operation = operation


def _session():
    # boto3 sessions are not thread-safe (the worker runs jobs in threads): one per thread.
    session = getattr(_thread_local, "session", None)
    if session is None:
        session = _thread_local.session = boto3.session.Session()
    return session


def client(account, service, *, max_attempts=None, connect_timeout=None, read_timeout=None):
    """A boto3 client for `service` ("ec2", "sts", "ebs", "s3", "rds", "route53"…) in the
    account's region, with its credentials, at its endpoint.

    Retries are few (settings OPSCONSOLE_CLOUD_MAX_ATTEMPTS, default 3 attempts in all;
    pass max_attempts=1 for none) and timeouts short, so an unreachable endpoint fails
    in seconds. S3 uses path-style addressing when an endpoint is set (moto, MinIO).
    """
    default_connect, default_read = conf.timeouts()
    options = {
        "region_name": account.region,
        "retries": {"total_max_attempts": max_attempts or conf.max_attempts(), "mode": "standard"},
        "connect_timeout": connect_timeout or default_connect,
        "read_timeout": read_timeout or default_read,
    }
    if account.endpoint_url:
        options["s3"] = {"addressing_style": "path"}
    credentials = {}
    if account.auth_mode == KEYS:
        credentials = {"aws_access_key_id": account.access_key_id, "aws_secret_access_key": account.secret_access_key}
    return _session().client(service, endpoint_url=account.endpoint_url or None, config=Config(**options),
                             **credentials)


def where(account):
    return account.endpoint_url or f"AWS ({account.region})"


@contextmanager
def translated_errors(account, operation):
    """Turn whatever botocore raises inside the block into a CloudError that says what
    went wrong with `operation` (e.g. "sts GetCallerIdentity") and what to check."""
    try:
        yield
    except CloudError:
        raise
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise CloudError(
            f"No AWS credentials found for {operation}: the account uses the environment / instance profile, "
            f"and neither the environment nor an instance profile provides credentials ({exc}).",
            code="no-credentials", operation=operation,
        ) from exc
    except EndpointConnectionError as exc:
        raise CloudError(
            f"Cannot reach {where(account)} for {operation}: the connection failed. "
            f"Check the endpoint URL and that the service is running and reachable from this machine.",
            code="unreachable", operation=operation,
        ) from exc
    except ConnectTimeoutError as exc:
        raise CloudError(f"Timed out connecting to {where(account)} for {operation}.", code="timeout",
                         operation=operation) from exc
    except ReadTimeoutError as exc:
        raise CloudError(f"{where(account)} did not answer {operation} in time.", code="timeout",
                         operation=operation) from exc
    except ClientError as exc:
        raise _client_error(exc, account, operation) from exc
    except ResponseParserError as exc:
        raise CloudError(
            f"{where(account)} answered {operation} with something that is not an AWS response (an error page?): "
            f"the service failed, or does not implement this call (the embedded cloud implements only part of AWS).",
            code="bad-response", operation=operation,
        ) from exc
    except BotoCoreError as exc:
        raise CloudError(f"{operation} failed: {exc}", code="error", operation=operation) from exc


def _client_error(exc, account, operation):
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "")) or str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    message = error.get("Message", "") or str(exc)
    if code in CREDENTIAL_ERRORS:
        text = (f"AWS refused the credentials ({code}) for {operation}: check the access key id and the "
                f"secret access key. {message}")
    elif code in PERMISSION_ERRORS:
        text = f"The credentials are valid but may not call {operation} ({code}): allow it in IAM. {message}"
    elif code.isdigit() and int(code) >= 500:
        text = (f"{where(account)} answered {operation} with HTTP {code}: the service failed, or does not "
                f"implement this call (the embedded cloud implements only part of AWS).")
    else:
        text = f"{operation} failed: {code}: {message}"
    return CloudError(text.strip(), code=code, operation=operation)


# --- the calls the services use -------------------------------------------------------


def caller_identity(account, **client_options):
    """{"Account", "Arn", "UserId"} of the credentials (sts GetCallerIdentity)."""
    with translated_errors(account, "sts GetCallerIdentity"):
        answer = client(account, "sts", **client_options).get_caller_identity()
    return {key: answer.get(key, "") for key in ("Account", "Arn", "UserId")}


def region_names(account, **client_options):
    """The regions enabled for the account (ec2 DescribeRegions)."""
    with translated_errors(account, "ec2 DescribeRegions"):
        answer = client(account, "ec2", **client_options).describe_regions()
    return sorted(region["RegionName"] for region in answer.get("Regions", []))


def instance_types(account, **client_options):
    """Every EC2 instance type offered in the account's region, as AWS describes them
    (ec2 DescribeInstanceTypes, all pages). Yields one dict per type."""
    with translated_errors(account, "ec2 DescribeInstanceTypes"):
        paginator = client(account, "ec2", **client_options).get_paginator("describe_instance_types")
        for page in paginator.paginate(PaginationConfig={"PageSize": 100}):
            yield from page.get("InstanceTypes", [])
