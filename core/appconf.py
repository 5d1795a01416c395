"""An app's own settings: the Django setting of that name, else the environment variable
of that name, else the app's default. (hypervisors.conf uses it; cloud.conf and
health.conf still carry their own copy of the same three lines.)"""

import os

from django.conf import settings


def app_setting(name, defaults):
    if hasattr(settings, name):
        return getattr(settings, name)
    return os.environ.get(name, defaults[name])
