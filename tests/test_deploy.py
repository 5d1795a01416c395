"""The production settings pass Django's deployment checklist, and refuse to start half-configured."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent


def production_env(tmp_path, **overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "OPSCONSOLE_"))}
    env.update(
        OPSCONSOLE_ENV="production",
        OPSCONSOLE_VAR_DIR=str(tmp_path),
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        OPSCONSOLE_FIELD_KEYS=Fernet.generate_key().decode(),
        DJANGO_ALLOWED_HOSTS="ops.example.com",
    )
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def manage(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_check_deploy(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = manage(production_env(tmp_path, DJANGO_SECRET_KEY=None), "check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when OPSCONSOLE_ENV=production" in result.stderr
    # No key may be invented behind the operator's back in production.
    assert not (tmp_path / "django-secret.key").exists()


def test_production_refuses_to_start_without_field_encryption_keys(tmp_path):
    result = manage(production_env(tmp_path, OPSCONSOLE_FIELD_KEYS=None), "check")
    assert result.returncode != 0
    assert "OPSCONSOLE_FIELD_KEYS must be set when OPSCONSOLE_ENV=production" in result.stderr
    assert not (tmp_path / "field-encryption.key").exists()


def test_check_deploy_catches_a_weak_secret_key(tmp_path):
    """The check is really run against our settings: a short key is flagged."""
    result = manage(production_env(tmp_path, DJANGO_SECRET_KEY="short"), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


PRODUCTION_PROBE = """
from django.test import Client
client = Client(REMOTE_ADDR="127.0.0.1", HTTP_HOST="ops.example.com")
metrics = client.get("/metrics", secure=True)
print(metrics.status_code, "script-src 'self';" in metrics["Content-Security-Policy"])
"""


def test_production_metrics_want_the_token_even_from_loopback_and_carry_the_csp(tmp_path):
    """What the local TLS proxy's clients meet: loopback is no longer enough for /metrics."""
    env = production_env(tmp_path, DATABASE_URL=None)  # its own database under tmp_path, not the test run's
    migrated = manage(env, "migrate", "--noinput", "-v", "0")
    assert migrated.returncode == 0, migrated.stderr
    result = manage(env, "shell", "-v", "0", "-c", PRODUCTION_PROBE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["401", "True"]
