"""Cloud accounts: testing a connection, and the embedded account.

    check = test_connection(account)      # never raises for an AWS failure; check.ok / check.message
    account = ensure_embedded_account()   # the account of the local moto server (idempotent)
    prepare_embedded_cloud(account)       # what its defaults name, made in a fresh moto server
    request_connection_test(account, user=request.user)   # the same test as a job (an action)
    request_catalogue_refresh(account, user=request.user) # reload the region's instance types (a job)
"""

import logging
from dataclasses import asdict, dataclass

from django.db import transaction
from django.utils import timezone

from core.actions import action
from core.jobs import start
from core.roles import Role

from .. import conf
from ..drivers import aws, ec2
from ..models import CloudAccount

TEST_CONNECTION = "cloud.test_connection"
REFRESH_INSTANCE_TYPES = "cloud.refresh_instance_types"
EMBEDDED_NAME = "Embedded cloud"
# moto accepts any key pair (unless its IAM checks are switched on); these say what they are.
EMBEDDED_KEY_ID, EMBEDDED_SECRET = "AKIAEMBEDDEDMOTO0000", "embedded-moto-server-accepts-any-secret"
# What a launch uses unless the plan says otherwise. A fresh moto server has a default VPC
# with a default subnet per zone and its "default" security group (ec2.subnet_id finds
# "default"); the key pair is made by prepare_embedded_cloud.
EMBEDDED_DEFAULTS = {"default_vpc": "default", "default_subnet": "default", "default_security_group": "default",
                     "default_key_pair": "opsconsole"}

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str
    aws_account_id: str = ""
    arn: str = ""
    regions: int = 0

    def as_dict(self):
        return asdict(self)


def test_connection(account, *, save=True, **client_options):
    """Whether the account's credentials work and may use EC2 in its region:
    sts GetCallerIdentity (who are we?) then ec2 DescribeRegions (is the region there?).

    Returns a ConnectionCheck; an AWS failure is a check with ok=False and a message that
    says what to fix, not an exception. With save=True the result is kept on the account
    (last_checked_at, last_check_ok, last_check_message, aws_account_id).
    client_options (e.g. max_attempts=1) go to cloud.drivers.aws.client().
    """
    try:
        identity = aws.caller_identity(account, **client_options)
        regions = aws.region_names(account, **client_options)
    except aws.CloudError as exc:
        check = ConnectionCheck(ok=False, message=str(exc))
    else:
        if account.region not in regions:
            check = ConnectionCheck(
                ok=False, aws_account_id=identity["Account"], arn=identity["Arn"], regions=len(regions),
                message=f"The credentials work (account {identity['Account']}) but region {account.region} is not "
                        f"enabled for them: enabled are {', '.join(regions) or 'none'}.",
            )
        else:
            check = ConnectionCheck(
                ok=True, aws_account_id=identity["Account"], arn=identity["Arn"], regions=len(regions),
                message=f"Connected as {identity['Arn']} (account {identity['Account']}); "
                        f"{account.region} is one of {len(regions)} enabled regions.",
            )
    if save and account.pk:
        record_check(account, check)
    return check


def record_check(account, check):
    fields = {"last_checked_at": timezone.now(), "last_check_ok": check.ok, "last_check_message": check.message[:500]}
    if check.aws_account_id:
        fields["aws_account_id"] = check.aws_account_id
    # An update, not save(): a check is not a change of the account (no change-log entry).
    CloudAccount.objects.filter(pk=account.pk).update(**fields)
    for name, value in fields.items():
        setattr(account, name, value)


@transaction.atomic
def ensure_embedded_account(endpoint=None, region="us-east-1"):
    """The account of the embedded cloud (moto's server at settings
    OPSCONSOLE_CLOUD_ENDPOINT, http://127.0.0.1:5000 by default). Created when missing;
    an existing one is left as it is (an admin may have edited it). Returns (account, created)."""
    existing = CloudAccount.objects.filter(is_embedded=True).order_by("pk").first()
    if existing is not None:
        return existing, False
    name = EMBEDDED_NAME
    if CloudAccount.objects.filter(name=name).exists():
        name = f"{EMBEDDED_NAME} (moto)"
    account = CloudAccount(
        name=name, region=region, auth_mode=CloudAccount.AuthMode.KEYS, access_key_id=EMBEDDED_KEY_ID,
        secret_access_key=EMBEDDED_SECRET, endpoint_url=endpoint or conf.embedded_endpoint(), is_embedded=True,
        **EMBEDDED_DEFAULTS,
    )
    account.full_clean()
    account.save()
    return account, True


def prepare_embedded_cloud(account):
    """Make in the embedded cloud what the embedded account's defaults name and a fresh
    moto server lacks (its state lives in memory): the key pair. Never touches real AWS.
    Returns what it made, e.g. ["key pair opsconsole"]."""
    if not account.is_embedded:
        raise ValueError(f"{account} is not the embedded cloud: nothing is created in a real AWS account.")
    made = []
    if account.default_key_pair and ec2.ensure_key_pair(account, account.default_key_pair):
        made.append(f"key pair {account.default_key_pair}")
    return made


def prepare_embedded_server(endpoint):
    """What `cloud_server` does once it answers: prepare every embedded account that uses
    this endpoint (when the database cannot say, the defaults a new embedded account gets)."""
    try:
        accounts = [a for a in CloudAccount.objects.filter(is_embedded=True) if a.endpoint_url.rstrip("/") == endpoint]
    except Exception:  # noqa: BLE001 - no database yet (not migrated): the defaults still help
        logger.warning("the embedded cloud could not read its accounts; preparing the default one", exc_info=True)
        accounts = []
    if not accounts:
        accounts = [CloudAccount(name=EMBEDDED_NAME, region="us-east-1", auth_mode=CloudAccount.AuthMode.KEYS,
                                 access_key_id=EMBEDDED_KEY_ID, secret_access_key=EMBEDDED_SECRET,
                                 endpoint_url=endpoint, is_embedded=True, **EMBEDDED_DEFAULTS)]
    made = []
    for account in accounts:
        made += [f"{item} in {account.region}" for item in prepare_embedded_cloud(account)]
    return made


@action(Role.OPERATOR, "testing a cloud account's connection")
def request_connection_test(account, user=None):
    return start(TEST_CONNECTION, f"Test connection of {account.name}", user=user,
                 params={"account_id": account.pk}, target=account)


@action(Role.OPERATOR, "refreshing a cloud account's instance types")
def request_catalogue_refresh(account, user=None):
    return start(REFRESH_INSTANCE_TYPES, f"Refresh instance types of {account.region} ({account.name})",
                 user=user, params={"account_id": account.pk}, target=account)
