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
