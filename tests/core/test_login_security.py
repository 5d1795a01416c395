"""Password guessing, API tokens and rate limits: logins lock out after a few failures per
user and address (django-axes), tokens expire, the API is throttled, sessions are short."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import BASE_DIR, token_client

ADDRESS = "198.51.100.20"
PASSWORD = "correct-horse-9"


def log_in(username, password, address=ADDRESS, url="/login/", **headers):
    client = Client(REMOTE_ADDR=address)
    response = client.post(url, {"username": username, "password": password}, **headers)
    return client, response


def logged_in(client):
    return "_auth_user_id" in client.session


def fail(username, times, address=ADDRESS, **headers):
    for _ in range(times):
        client, response = log_in(username, "wrong-guess", address, **headers)
        assert not logged_in(client)


# --- lockout --------------------------------------------------------------------------------


def test_guessing_then_the_right_password_is_refused(settings, operator):
    """The review's probe: many wrong passwords, then the right one, used to log in."""
    fail(operator.username, 25)
    client, response = log_in(operator.username, PASSWORD)
    assert response.status_code == 429
    assert not logged_in(client)
    page = response.content.decode()
    assert 'id="locked-out"' in page
    assert "locked out from your address for 15 minutes" in page
    assert 'name="password"' in page  # still the login page, with its form


def test_a_few_failures_do_not_lock_out_and_a_success_forgets_them(settings, operator):
    fail(operator.username, settings.AXES_FAILURE_LIMIT - 1)
    client, response = log_in(operator.username, PASSWORD)
    assert response.status_code == 302 and logged_in(client)
    assert not AccessAttempt.objects.filter(username=operator.username).exists()


def test_the_lockout_is_per_user_and_address(settings, operator, viewer):
    fail(operator.username, settings.AXES_FAILURE_LIMIT)
    assert log_in(operator.username, PASSWORD)[1].status_code == 429
    assert logged_in(log_in(operator.username, PASSWORD, address="203.0.113.30")[0])
    assert logged_in(log_in(viewer.username, PASSWORD)[0])


def test_a_forwarded_header_does_not_give_a_fresh_address(settings, operator):
    for n in range(settings.AXES_FAILURE_LIMIT):
        fail(operator.username, 1, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
    client, response = log_in(operator.username, PASSWORD, HTTP_X_FORWARDED_FOR="10.0.0.99")
    assert response.status_code == 429 and not logged_in(client)


def test_the_lockout_ends_after_the_cool_off(settings, operator):
    fail(operator.username, settings.AXES_FAILURE_LIMIT)
    assert log_in(operator.username, PASSWORD)[1].status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=5))
    assert logged_in(log_in(operator.username, PASSWORD)[0])


def test_the_admin_login_locks_out_too(settings, admin_user):
    admin_user.is_staff = True
    admin_user.save()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert not logged_in(log_in(admin_user.username, "wrong-guess", url="/admin/login/")[0])
    client, response = log_in(admin_user.username, PASSWORD, url="/admin/login/")
    assert response.status_code == 429 and not logged_in(client)
    assert 'id="locked-out"' in response.content.decode()


def test_an_admin_unlocks_a_user_with_the_command(settings, operator):
    fail(operator.username, settings.AXES_FAILURE_LIMIT)
    assert log_in(operator.username, PASSWORD)[1].status_code == 429
    call_command("axes_reset_username", operator.username)
    assert logged_in(log_in(operator.username, PASSWORD)[0])


def test_the_limits_come_from_the_environment(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSCONSOLE_")}
    env.update(OPSCONSOLE_VAR_DIR=str(tmp_path), OPSCONSOLE_LOGIN_FAILURE_LIMIT="3",
               OPSCONSOLE_LOGIN_COOLOFF_MINUTES="60", OPSCONSOLE_SESSION_HOURS="2",
               OPSCONSOLE_API_TOKEN_MAX_AGE_DAYS="7", OPSCONSOLE_API_THROTTLE_USER="99/hour",
               OPSCONSOLE_API_THROTTLE_ANON="9/hour")
    code = ("from django.conf import settings as s; print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME, "
            "s.SESSION_COOKIE_AGE, s.API_TOKEN_MAX_AGE_DAYS, s.API_THROTTLE_RATES['user'], s.API_THROTTLE_RATES['anon'])")
    result = subprocess.run([sys.executable, "manage.py", "shell", "-v", "0", "-c", code], cwd=BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3", "1:00:00", "7200", "7", "99/hour", "9/hour"]


# --- sessions -------------------------------------------------------------------------------


def test_a_console_session_lasts_eight_hours(operator):
    client, response = log_in(operator.username, PASSWORD)
    assert response.cookies["sessionid"]["max-age"] == 8 * 3600


# --- API tokens -----------------------------------------------------------------------------


def age_token(user, days):
    token, _ = Token.objects.get_or_create(user=user)
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(days=days))
    return token


def test_a_token_within_its_age_works(viewer):
    age_token(viewer, 29)
    assert token_client(viewer).get("/api/users/me/").status_code == 200


def test_an_expired_token_is_refused_with_a_sentence(viewer):
    age_token(viewer, 31)
    response = token_client(viewer).get("/api/users/me/")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("This API token expired: tokens are valid for 30 days.")
    assert "drf_create_token -r" in response.json()["detail"]


def test_the_age_is_a_setting(settings, viewer):
    settings.API_TOKEN_MAX_AGE_DAYS = 2
    age_token(viewer, 3)
    assert token_client(viewer).get("/api/users/me/").status_code == 401


def test_a_renewed_token_works_again(viewer):
    old = age_token(viewer, 40)
    call_command("drf_create_token", "-r", viewer.username)
    new = Token.objects.get(user=viewer)
    assert new.key != old.key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {new.key}")
    assert client.get("/api/users/me/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {old.key}")
    assert client.get("/api/users/me/").status_code == 401


# --- throttles ------------------------------------------------------------------------------


@pytest.fixture
def low_rates(settings):
    settings.API_THROTTLE_RATES = {"anon": "3/minute", "user": "5/minute"}


def test_a_user_is_throttled_past_the_rate(low_rates, viewer, operator):
    client = token_client(viewer)
    assert [client.get("/api/users/me/").status_code for _ in range(5)] == [200] * 5
    response = client.get("/api/users/me/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "throttled" in response.json()["detail"]
    assert token_client(operator).get("/api/users/me/").status_code == 200  # per user


@pytest.mark.urls("tests.core.urls_open_api")
def test_anonymous_requests_are_throttled_per_address(low_rates, db):
    def anon(address, **headers):
        return APIClient(REMOTE_ADDR=address).get("/api/open/", **headers).status_code

    # A forwarded header from an untrusted peer does not make a new address.
    assert [anon(ADDRESS, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}") for n in range(4)] == [200, 200, 200, 429]
    assert anon("203.0.113.40") == 200
