"""Settings for the ops console.

Everything that differs between a laptop demo, CI and production comes from the
environment. With nothing set, the product runs on embedded defaults (SQLite under
var/, a broker that needs no server). OPSCONSOLE_ENV=production turns on the
hardened settings that `manage.py check --deploy` expects and refuses to start
without a real secret key.
"""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("OPSCONSOLE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PRODUCTION = os.environ.get("OPSCONSOLE_ENV", "development") == "production"


def _local_secret(filename):
    """A per-installation secret kept under var/, made on first use (embedded mode only)."""
    path = VAR_DIR / filename
    if not path.exists():
        from secrets import token_urlsafe

        path.write_text(token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when OPSCONSOLE_ENV=production")
    SECRET_KEY = _local_secret("django-secret.key")

# Key(s) for secrets stored in the database (SSH keys, BMC and cloud credentials).
# Comma-separated Fernet keys: the first encrypts, all decrypt (key rotation).
FIELD_ENCRYPTION_KEYS = env_list("OPSCONSOLE_FIELD_KEYS")
if not FIELD_ENCRYPTION_KEYS:
    if PRODUCTION:
        raise ImproperlyConfigured("OPSCONSOLE_FIELD_KEYS must be set when OPSCONSOLE_ENV=production")
    from cryptography.fernet import Fernet

    key_file = VAR_DIR / "field-encryption.key"
    if not key_file.exists():
        key_file.write_bytes(Fernet.generate_key())
        key_file.chmod(0o600)
    FIELD_ENCRYPTION_KEYS = [key_file.read_text().strip()]

DEBUG = env_bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_tables2",
    "django_celery_beat",
    "auditlog",
    "axes",
    "core",
    "inventory",
    "access",
    "hypervisors",
    "cloud",
    "health",
    "migrations_tool",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",  # outermost but one: static files and errors get it too
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.ConsoleLoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.middleware.ChangeLogMiddleware",  # auditlog's, with the client address we can vouch for
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires: turns a lockout into its page
]

ROOT_URLCONF = "opsconsole.urls"
WSGI_APPLICATION = "opsconsole.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.console",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# DATABASE_URL selects PostgreSQL in production and CI; the embedded default is a
# SQLite file in WAL mode so web, worker and beat can share it.
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'opsconsole.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file (not :memory:) so a real worker process can share the test database.
    db_file = Path(DATABASES["default"]["NAME"])
    DATABASES["default"]["TEST"] = {"NAME": str(db_file.with_name(f"test-{db_file.name}"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TZ_NAME", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files: every asset comes from a package and is served by the app --
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/bootstrap", NODE_MODULES / "bootstrap" / "dist"),
    ("vendor/bootstrap-icons", NODE_MODULES / "bootstrap-icons" / "font"),
    ("vendor/chart.js", NODE_MODULES / "chart.js" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Logins ------------------------------------------------------------------
# django-axes locks a user out from one address after AXES_FAILURE_LIMIT failed logins, for
# the cool-off (console and /admin/ alike). Unlock: `manage.py axes_reset_username USER`
# or delete the attempt in /admin/axes/.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("OPSCONSOLE_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("OPSCONSOLE_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.client_address.client_address"  # the peer, or forwarded by a trusted proxy
AXES_LOCKOUT_CALLABLE = "core.authentication.locked_out"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False  # no banner on every manage.py command
# A console session lasts this long from login.
SESSION_COOKIE_AGE = int(os.environ.get("OPSCONSOLE_SESSION_HOURS", "8")) * 3600

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- REST API -------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.permissions.RolePermission"],
    "DEFAULT_THROTTLE_CLASSES": ["core.api.throttles.AnonThrottle", "core.api.throttles.UserThrottle"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "core.api.filters.FilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# Requests per address (anonymous) or per user; DRF's rate syntax, e.g. "600/minute".
API_THROTTLE_RATES = {
    "anon": os.environ.get("OPSCONSOLE_API_THROTTLE_ANON", "30/minute"),
    "user": os.environ.get("OPSCONSOLE_API_THROTTLE_USER", "600/minute"),
}
# A token older than this is refused; renew it with `manage.py drf_create_token -r USER`.
API_TOKEN_MAX_AGE_DAYS = int(os.environ.get("OPSCONSOLE_API_TOKEN_MAX_AGE_DAYS", "30"))
SPECTACULAR_SETTINGS = {
    "TITLE": "Ops console API",
    "DESCRIPTION": "Inventory, hypervisors, health and migrations of a datacenter estate.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["core.permissions.RolePermission"],  # schema and docs: logged-in users only
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "PATH_CONVERTER_OVERRIDES": {"id": int},  # core.converters: <id:pk> is a whole number
    # Job.state and VirtualMachine.state would otherwise collide as "StateEnum".
    "ENUM_NAME_OVERRIDES": {"VirtualMachineStateEnum": "hypervisors.models.VirtualMachine.State",
                            "JobStateEnum": "core.models.Job.State",
                            "AlertTargetKindEnum": "health.models.AlertTarget.Kind",
                            "HealthCheckEnum": "health.models.Check"},
}

# --- Celery ---------------------------------------------------------------
# The embedded broker is kombu's SQLAlchemy transport on a SQLite file: no server.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
CELERY_TASK_IGNORE_RESULT = True  # results live on the Job row
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message to be redelivered
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "opsconsole")

# --- Audit / change log -----------------------------------------------------
AUDITLOG_DISABLE_REMOTE_ADDR = False
# Proxies (IPs or networks) whose X-Forwarded-For is believed, e.g. the local TLS proxy:
# OPSCONSOLE_TRUSTED_PROXIES=127.0.0.1,::1. From anyone else the peer address is recorded.
TRUSTED_PROXIES = env_list("OPSCONSOLE_TRUSTED_PROXIES")
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"OPSCONSOLE_TRUSTED_PROXIES: {_proxy!r} is not an IP address or network") from None
CHANGELOG_RETENTION_DAYS = int(os.environ.get("OPSCONSOLE_CHANGELOG_RETENTION_DAYS", "365"))
JOB_RETENTION_DAYS = int(os.environ.get("OPSCONSOLE_JOB_RETENTION_DAYS", "90"))

# --- Security ---------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # HTMX reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

EMAIL_BACKEND = os.environ.get("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # axes logs every login attempt it clears at INFO: keep its warnings (lockouts) only.
    "loggers": {"django.db.backends": {"level": "INFO"}, "axes": {"level": "WARNING"}},
}
