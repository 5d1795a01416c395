"""The hypervisors app's server-side settings (Django settings, else the environment
variable of the same name, else the default). A URI never carries these (validators.py)."""

from core.appconf import app_setting

DEFAULTS = {
    # The private key libvirt's SSH transports log in with (empty: ssh's own default keys).
    "LIBVIRT_SSH_KEYFILE": "",
    # The known_hosts file the libssh/libssh2 transports check host keys against (plain
    # `ssh` reads the worker user's OpenSSH known_hosts and config instead).
    "LIBVIRT_SSH_KNOWN_HOSTS": "",
}


def setting(name):
    return app_setting(name, DEFAULTS)
