"""Make sure an admin login exists, so `make run` always ends with a way in.

The password comes from OPSCONSOLE_ADMIN_PASSWORD, or is generated once and kept in
var/admin-password (mode 600). An existing admin's password is only changed when
OPSCONSOLE_ADMIN_PASSWORD says so: a password changed in the console is left alone.
"""

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction

from core.roles import Role

USERNAME = "admin"
PASSWORD_ENV = "OPSCONSOLE_ADMIN_PASSWORD"


def password_file() -> Path:
    return Path(settings.VAR_DIR) / "admin-password"


def stored_password():
    """The generated password, made and written (owner-only) on first use."""
    path = password_file()
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(15) + "\n")
    path.chmod(0o600)
    return path.read_text().strip()


@transaction.atomic
def ensure_admin():
    """Create the admin user if missing; return (user, password or None when unknown)."""
    from_env = os.environ.get(PASSWORD_ENV)
    user = User.objects.filter(username=USERNAME).first()
    if user is None:
        password = from_env or stored_password()
        user = User.objects.create_superuser(USERNAME, email="", password=password)
    elif from_env and not user.check_password(from_env):
        user.set_password(from_env)
        user.save(update_fields=["password"])
    user.groups.add(Group.objects.get_or_create(name=Role.ADMIN.group_name)[0])
    if from_env:
        return user, from_env
    password = stored_password() if password_file().exists() else None
    return user, password if password and user.check_password(password) else None


class Command(BaseCommand):
    help = "Create the 'admin' login if it does not exist and tell how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="Print nothing on success")

    def handle(self, *args, quiet=False, **options):
        user, password = ensure_admin()
        if quiet:
            return
        self.stdout.write(f"Login:        {user.username}")
        if password is None:
            self.stdout.write(
                f"Password:     (changed since it was generated; set {PASSWORD_ENV} and run again to reset it)"
            )
        elif os.environ.get(PASSWORD_ENV):
            self.stdout.write(f"Password:     the value of {PASSWORD_ENV}")
        else:
            self.stdout.write(f"Password:     {password}   (kept in {password_file()})")
