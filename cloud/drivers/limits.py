"""AWS refusals that are about limits, not mistakes, told so an operator knows what to
ask for: a quota (raise it in Service Quotas), an instance type the region does not
offer (pick another type or region), capacity AWS lacks right now (try later or
another zone).

    with explained_limits(account, "ec2 RunInstances"):
        client.run_instances(...)

Everything else goes through cloud.drivers.aws.translated_errors unchanged.
"""

import re
from contextlib import contextmanager

from . import aws

QUOTA_ERRORS = {
    "ServiceQuotaExceededException", "InstanceLimitExceeded", "VcpuLimitExceeded", "SnapshotLimitExceeded",
    "VolumeLimitExceeded", "MaxIOPSLimitExceeded", "ResourceLimitExceeded", "AddressLimitExceeded",
    "InstanceQuotaExceeded", "StorageQuotaExceeded", "DBInstanceQuotaExceeded", "SnapshotQuotaExceeded",
    "QuotaExceeded", "TooManyBuckets", "LimitExceededException", "ConcurrentLimitExceededException",
}
UNOFFERED_TYPE_ERRORS = {"InvalidInstanceType", "Unsupported", "InvalidDBInstanceClass",
                         "InvalidParameterCombination"}
CAPACITY_ERRORS = {"InsufficientInstanceCapacity", "InsufficientDBInstanceCapacity", "InsufficientCapacity"}


@contextmanager
def explained_limits(account, operation):
    try:
        with aws.translated_errors(account, operation):
            yield
    except aws.CloudError as exc:
        explained = _explained(exc, account, operation)
        if explained is None:
            raise  # as it was: callers read its cause (a dropped connection is worth a retry)
        raise explained from exc


def _explained(exc, account, operation):
    detail = str(exc)
    buried = _buried_code(exc)
    if buried in aws.CREDENTIAL_ERRORS:
        text = (f"AWS refused the credentials ({buried}) for {operation}: check the access key id and the "
                f"secret access key.")
        exc.code = buried
    elif buried in aws.PERMISSION_ERRORS:
        text = f"The credentials are valid but may not call {operation} ({buried}): allow it in IAM."
        exc.code = buried
    elif exc.code in QUOTA_ERRORS:
        text = (f"An AWS quota stopped {operation} in {account.region} ({exc.code}): raise the quota in Service "
                f"Quotas, or free resources, then resume. {detail}")
    elif exc.code in UNOFFERED_TYPE_ERRORS:
        text = (f"{operation}: the instance type or class is not offered in {account.region} ({exc.code}): "
                f"choose another type or region. {detail}")
    elif exc.code in CAPACITY_ERRORS:
        text = (f"AWS has no capacity for {operation} in {account.region} right now ({exc.code}): try again "
                f"later or in another availability zone. {detail}")
    else:
        return None
    error = aws.CloudError(text, code=exc.code, operation=operation)
    error.__cause__ = exc.__cause__
    return error


def _buried_code(exc):
    """The error code of an answer botocore could not parse (moto answers the JSON
    services' auth failures in XML): the HTTP status is all it found."""
    if not str(exc.code).isdigit():
        return ""
    match = re.search(r"<Code>(\w+)</Code>", str(exc))
    return match.group(1) if match else ""
