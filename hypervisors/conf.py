"""The hypervisors app's server-side settings, read from Django settings or else the
environment variable of the same name. A URI never carries these (see validators.py)."""

import os

from django.conf import settings

DEFAULTS = {
    # The private key libvirt's SSH transports log in with (empty: ssh's own default keys).
    "LIBVIRT_SSH_KEYFILE": "",
    # The known_hosts file the libssh/libssh2 transports check host keys against (plain
    # `ssh` reads the worker user's OpenSSH known_hosts and config instead).
    "LIBVIRT_SSH_KNOWN_HOSTS": "",
}


def setting(name):
    if hasattr(settings, name):
        return getattr(settings, name)
    return os.environ.get(name, DEFAULTS[name])
