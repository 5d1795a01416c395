"""Thin Celery wrappers: load the account from the Job, call one service, return its result.
The jobs are started by the actions of cloud.services.accounts."""

from core.jobs import job_task

from .drivers.aws import CloudError
from .models import CloudAccount
from .services import accounts, catalogue


def _account(job):
    return CloudAccount.objects.get(pk=job.params["account_id"])


@job_task(accounts.TEST_CONNECTION)
def test_connection_job(job, recorder):
    account = _account(job)
    recorder.progress(10, f"Testing the connection of {account.name}")
    check = accounts.test_connection(account)
    recorder.log(check.message)
    if not check.ok:
        raise CloudError(check.message)  # the job fails with the reason as its message
    return check.as_dict()


@job_task(accounts.REFRESH_INSTANCE_TYPES)
def refresh_instance_types_job(job, recorder):
    return catalogue.refresh_instance_types(_account(job), recorder)
