"""The cloud app's settings, each with its default, so the app runs with nothing set.

Every value can be set in Django settings (e.g. in tests with the `settings` fixture)
or through the environment variable named beside it.
"""

import os
from pathlib import Path

from django.conf import settings

DATA_DIR = Path(__file__).resolve().parent / "data"  # the price tables shipped with the product

DEFAULTS = {
    # Where the embedded cloud (moto's server, `manage.py cloud_server`) listens.
    "OPSCONSOLE_CLOUD_ENDPOINT": "http://127.0.0.1:5000",
    # botocore attempts per call (1 = no retry). Low: moto answers unimplemented calls
    # with a 500 page that botocore would otherwise retry at length.
    "OPSCONSOLE_CLOUD_MAX_ATTEMPTS": "3",
    "OPSCONSOLE_CLOUD_CONNECT_TIMEOUT": "5",
    "OPSCONSOLE_CLOUD_READ_TIMEOUT": "60",
    # Where AWS publishes its price list bulk files (no credentials needed).
    "OPSCONSOLE_PRICE_LIST_URL": "https://pricing.us-east-1.amazonaws.com",
    # Block replication (cloud.services.replication): parallel uploads, and how often a
    # block whose upload hit a network error is tried again (backoff doubles from this).
    "OPSCONSOLE_CLOUD_REPLICATION_WORKERS": "8",
    "OPSCONSOLE_CLOUD_REPLICATION_RETRIES": "5",
    "OPSCONSOLE_CLOUD_REPLICATION_BACKOFF": "0.5",
    # A pass with no progress for this long counts as stalled (its worker died): another may take over.
    "OPSCONSOLE_CLOUD_REPLICATION_STALE_AFTER": "300",
    # The embedded cloud's RDS has no data plane: its endpoints map to databases named
    # PREFIX<identifier> on this PostgreSQL server (cloud.services.rds_replatform).
    "OPSCONSOLE_CLOUD_RDS_LOCAL_SERVER": "postgres://postgres@127.0.0.1:5432",
    "OPSCONSOLE_CLOUD_RDS_LOCAL_PREFIX": "rds_",
}


def setting(name):
    """The Django setting `name`, else the environment variable, else the default."""
    if hasattr(settings, name):
        return getattr(settings, name)
    return os.environ.get(name, DEFAULTS[name])


def embedded_endpoint():
    return str(setting("OPSCONSOLE_CLOUD_ENDPOINT")).rstrip("/")


def max_attempts():
    return max(1, int(setting("OPSCONSOLE_CLOUD_MAX_ATTEMPTS")))


def timeouts():
    """(connect, read) timeouts in seconds for every AWS call."""
    return float(setting("OPSCONSOLE_CLOUD_CONNECT_TIMEOUT")), float(setting("OPSCONSOLE_CLOUD_READ_TIMEOUT"))


def price_list_url():
    return str(setting("OPSCONSOLE_PRICE_LIST_URL")).rstrip("/")


def refreshed_prices_dir():
    """Where `refresh_prices` writes its tables: under var/, so a refresh never edits the
    shipped files and survives an upgrade of the code."""
    return Path(settings.VAR_DIR) / "cloud"


def replication_workers():
    return max(1, int(setting("OPSCONSOLE_CLOUD_REPLICATION_WORKERS")))


def replication_retries():
    """(attempts after the first, first backoff in seconds) for one block upload."""
    return max(0, int(setting("OPSCONSOLE_CLOUD_REPLICATION_RETRIES"))), \
        max(0.0, float(setting("OPSCONSOLE_CLOUD_REPLICATION_BACKOFF")))


def replication_stale_after():
    return max(1.0, float(setting("OPSCONSOLE_CLOUD_REPLICATION_STALE_AFTER")))


def rds_local_server():
    """(server DSN without a database, database name prefix) of the embedded cloud's RDS."""
    return str(setting("OPSCONSOLE_CLOUD_RDS_LOCAL_SERVER")).rstrip("/"), str(setting("OPSCONSOLE_CLOUD_RDS_LOCAL_PREFIX"))
