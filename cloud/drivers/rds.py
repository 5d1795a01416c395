"""RDS control plane: create a DB instance and describe it.

    create_db_instance(account, "saturn-db", "db.m5.large", "postgres", 20, "opsconsole", password)
    described = describe_db_instance(account, "saturn-db")   # None when there is none
"""

from . import aws
from .limits import explained_limits


def _client(account):
    return aws.client(account, "rds")


def create_db_instance(account, identifier, db_class, engine, storage_gb, master_username, master_password,
                       *, database_name=None, multi_az=False, tags=None):
    """Ask for the instance; one that already exists is not an error (a resumed step)."""
    params = {"DBInstanceIdentifier": identifier, "DBInstanceClass": db_class, "Engine": engine,
              "AllocatedStorage": storage_gb, "MasterUsername": master_username,
              "MasterUserPassword": master_password, "MultiAZ": multi_az}
    if database_name:
        params["DBName"] = database_name
    if tags:
        params["Tags"] = [{"Key": key, "Value": str(value)} for key, value in tags.items()]
    try:
        with explained_limits(account, "rds CreateDBInstance"):
            return _client(account).create_db_instance(**params)["DBInstance"]
    except aws.CloudError as exc:
        if exc.code != "DBInstanceAlreadyExists":
            raise
    return describe_db_instance(account, identifier)


def describe_db_instance(account, identifier):
    try:
        with explained_limits(account, "rds DescribeDBInstances"):
            return _client(account).describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    except aws.CloudError as exc:
        if exc.code == "DBInstanceNotFound":
            return None
        raise
