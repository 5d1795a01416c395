"""Thin Celery wrappers: load the account from the Job, call one service, return its result.

start_* create the Job and send its task once the surrounding transaction commits;
the console and the API both call them.
"""

from core.jobs import job_task, start

from .drivers.aws import CloudError
from .models import CloudAccount
from .services import accounts, catalogue


def _account(job):
    return CloudAccount.objects.get(pk=job.params["account_id"])


@job_task("cloud.test_connection")
def test_connection_job(job, recorder):
    account = _account(job)
    recorder.progress(10, f"Testing the connection of {account.name}")
    check = accounts.test_connection(account)
    recorder.log(check.message)
    if not check.ok:
        raise CloudError(check.message)  # the job fails with the reason as its message
    return check.as_dict()


@job_task("cloud.refresh_instance_types")
def refresh_instance_types_job(job, recorder):
    return catalogue.refresh_instance_types(_account(job), recorder)


def start_connection_test(account, user=None):
    return start(test_connection_job.name, f"Test connection of {account.name}", user=user,
                 params={"account_id": account.pk}, target=account)


def start_catalogue_refresh(account, user=None):
    return start(refresh_instance_types_job.name, f"Refresh instance types of {account.region} ({account.name})",
                 user=user, params={"account_id": account.pk}, target=account)
