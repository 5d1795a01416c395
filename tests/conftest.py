"""Shared fixtures: users in each role, API clients, a real Celery worker process; the lab
and the browser (tests/fixtures/)."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from inventory.models import Host, Rack, Role, Site

# Session fixtures that any app's tests may need, defined once so a test process never
# starts two of them: the libvirt lab, the headless browser and the embedded cloud.
pytest_plugins = ["tests.fixtures.lab", "tests.fixtures.browser", "tests.fixtures.cloud"]

BASE_DIR = Path(__file__).resolve().parent.parent


def make_user(username, group=None, superuser=False):
    user = User.objects.create_user(username=username, password="correct-horse-9", is_superuser=superuser)
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


@pytest.fixture
def viewer(db):
    return make_user("vera-viewer", "viewer")


@pytest.fixture
def operator(db):
    return make_user("otto-operator", "operator")


@pytest.fixture
def admin_user(db):
    return make_user("ada-admin", "admin")


@pytest.fixture
def nobody(db):
    """Logged in, but in no role group: sees nothing."""
    return make_user("nemo-norole")


def token_client(user):
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def viewer_api(viewer):
    return token_client(viewer)


@pytest.fixture
def operator_api(operator):
    return token_client(operator)


@pytest.fixture
def admin_api(admin_user):
    return token_client(admin_user)


@pytest.fixture
def anon_api():
    return APIClient()


@pytest.fixture
def site(db):
    return Site.objects.create(name="Amsterdam DC1", slug="ams1")


@pytest.fixture
def rack(site):
    return Rack.objects.create(site=site, name="R01", u_height=42)


@pytest.fixture
def app_role(db):
    return Role.objects.create(name="App server", slug="app")


@pytest.fixture
def host(site, rack, app_role):
    return Host.objects.create(hostname="luna", site=site, rack=rack, position=10, role=app_role, status="active")


def _database_url_for_worker():
    """The URL of the database this test run really uses (the test database)."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or ""
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


@pytest.fixture
def celery_worker_process(transactional_db, settings):
    """A real `celery worker` process on the configured broker, consuming a queue of
    its own so no other worker (a running `make run`) can steal the test's tasks."""
    from opsconsole.celery import app

    queue = f"test-{uuid.uuid4().hex[:12]}"
    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    env = dict(os.environ, DATABASE_URL=_database_url_for_worker(), CELERY_QUEUE=queue)
    env["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL
    # The image roots a test declared (settings fixture) are the worker's too.
    env["OPSCONSOLE_IMAGE_ROOTS"] = ",".join(map(str, getattr(settings, "OPSCONSOLE_IMAGE_ROOTS", None) or []))
    log_path = Path(settings.VAR_DIR) / f"worker-{queue}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        # A node name of its own: on RabbitMQ two workers named alike clash on their
        # exclusive remote-control queue (RESOURCE_LOCKED), e.g. under pytest-xdist.
        [sys.executable, "-m", "celery", "-A", "opsconsole", "worker", "-Q", queue, "-c", "1",
         "-n", f"{queue}@%h", "--pool", "solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"],
        cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while "ready." not in log_path.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Celery worker did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield proc
    finally:
        app.conf.task_default_queue = previous_queue
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        log_path.unlink(missing_ok=True)


def wait_for(predicate, timeout=30, interval=0.2):
    """Poll until predicate() is truthy; return its value or fail with the last one."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Test users need no costly hashing (PBKDF2 takes over a second per user here)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def generous_api_throttles(settings):
    """The API throttles stay on in every test, at rates no test reaches: many tests send
    hundreds of requests as one user within seconds (the fuzz test 1,600), and the counts
    would carry over from test to test in the cache. tests/core/test_login_security.py sets
    low rates and proves they apply."""
    from django.core.cache import cache

    settings.API_THROTTLE_RATES = {"anon": "100000/minute", "user": "100000/minute"}
    cache.clear()
