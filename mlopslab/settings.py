"""MLOps Lab settings, read from environment variables.

Every variable goes through one of the small typed readers below, which refuse a
value they cannot parse instead of guessing. The README lists the variables.
"""

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off.")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum of {minimum}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def _development_secret_key(path: Path) -> str:
    """Return the development key kept in a git-ignored file, creating it on first run."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


_STORAGE_URL_OPTIONS = {"endpoint_url": "endpoint_url", "region": "region_name", "addressing_style": "addressing_style"}
_AWS_STORAGE_OPTIONS = {
    "AWS_STORAGE_BUCKET_NAME": "bucket_name",
    "AWS_S3_ENDPOINT_URL": "endpoint_url",
    "AWS_S3_REGION_NAME": "region_name",
}
_AWS_STORAGE_VARIABLES = tuple(_AWS_STORAGE_OPTIONS)


def _endpoint_check(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(f"{name}: the endpoint {value!r} is not an http:// or https:// address.")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number from 0 to 65535
    except ValueError:
        raise ImproperlyConfigured(
            f"{name}: the endpoint {value!r} has a port that is not a number up to 65535."
        ) from None
    return value


def storage_from_environment(environ: Mapping[str, str]) -> dict:
    """STORAGES["default"]: the local folder (MEDIA_ROOT under DATA_DIR) unless STORAGE_URL or AWS_STORAGE_BUCKET_NAME
    names a bucket of an S3-compatible object store, reached through django-storages (mlopslab.s3.ObjectStorage).

    `STORAGE_URL=s3://bucket[/prefix]?endpoint_url=http://host:9000&region=us-east-1&addressing_style=path`, or the
    usual AWS_STORAGE_BUCKET_NAME, AWS_S3_ENDPOINT_URL and AWS_S3_REGION_NAME. Credentials come from
    AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (both or neither; neither leaves them to boto3's own chain, an
    instance role say), never from the URL. A value that cannot be read, or half a configuration, stops the start
    with a message naming the variable.
    """
    raw = environ.get("STORAGE_URL", "").strip()
    aws = {name: environ.get(name, "").strip() for name in _AWS_STORAGE_VARIABLES}
    options: dict[str, str] = {}
    if raw:
        parts = urlsplit(raw)
        if parts.scheme != "s3":
            raise ImproperlyConfigured(
                f"STORAGE_URL={raw!r}: only s3://bucket URLs are understood; unset it to keep files under DATA_DIR."
            )
        if parts.username or parts.password:
            raise ImproperlyConfigured(
                "STORAGE_URL must not carry credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead."
            )
        if not parts.hostname:
            raise ImproperlyConfigured(f"STORAGE_URL={raw!r} names no bucket: write s3://<bucket>.")
        if ":" in parts.netloc:
            raise ImproperlyConfigured(
                f"STORAGE_URL={raw!r}: {parts.netloc!r} is not a bucket name; the store's address goes in "
                "?endpoint_url=http://host:port, as in s3://<bucket>?endpoint_url=http://127.0.0.1:9000."
            )
        options["bucket_name"] = parts.netloc
        if parts.path.strip("/"):
            options["location"] = parts.path.strip("/")
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key not in _STORAGE_URL_OPTIONS:
                known = ", ".join(_STORAGE_URL_OPTIONS)
                raise ImproperlyConfigured(f"STORAGE_URL: {key!r} is not an option; the options are {known}.")
            if not value:
                raise ImproperlyConfigured(f"STORAGE_URL: the option {key!r} has no value.")
            options[_STORAGE_URL_OPTIONS[key]] = value
        for name, option in _AWS_STORAGE_OPTIONS.items():
            if aws[name] and options.get(option, aws[name]) != aws[name]:
                raise ImproperlyConfigured(f"STORAGE_URL and {name} disagree ({name}={aws[name]!r}); set one of them.")
            if aws[name]:
                options[option] = aws[name]
    elif aws["AWS_STORAGE_BUCKET_NAME"]:
        options["bucket_name"] = aws["AWS_STORAGE_BUCKET_NAME"]
        if aws["AWS_S3_ENDPOINT_URL"]:
            options["endpoint_url"] = aws["AWS_S3_ENDPOINT_URL"]
        if aws["AWS_S3_REGION_NAME"]:
            options["region_name"] = aws["AWS_S3_REGION_NAME"]
    else:
        partial = [name for name in _AWS_STORAGE_VARIABLES if aws[name]]
        if partial:
            raise ImproperlyConfigured(
                f"{partial[0]} is set but AWS_STORAGE_BUCKET_NAME is not: name the bucket (or set STORAGE_URL), "
                f"or unset {partial[0]} to keep files under DATA_DIR."
            )
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    if "endpoint_url" in options:
        _endpoint_check("STORAGE_URL" if raw else "AWS_S3_ENDPOINT_URL", options["endpoint_url"])
    if options.get("addressing_style", "path") not in ("path", "virtual", "auto"):
        raise ImproperlyConfigured(
            f"STORAGE_URL: addressing_style={options['addressing_style']!r} is not path, virtual or auto."
        )
    key, secret = environ.get("AWS_ACCESS_KEY_ID", ""), environ.get("AWS_SECRET_ACCESS_KEY", "")
    if bool(key) != bool(secret):
        missing = "AWS_SECRET_ACCESS_KEY" if key else "AWS_ACCESS_KEY_ID"
        present = "AWS_ACCESS_KEY_ID" if key else "AWS_SECRET_ACCESS_KEY"
        raise ImproperlyConfigured(f"{present} is set but {missing} is not: the object store needs both, or neither.")
    if key:
        options.update(access_key=key, secret_key=secret)
    return {"BACKEND": "mlopslab.s3.ObjectStorage", "OPTIONS": options}


DEBUG = env_bool("DEBUG", True)
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var")))

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _development_secret_key(DATA_DIR / "secret_key")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "mlopslab",
    "template_partials",
    "lessons",
    "sandbox",
    "studio",
    "cohorts",
    "community",
]

MIDDLEWARE = [
    # First, so that its process_view refuses an oversized body before the CSRF middleware reads it.
    "mlopslab.limits.RequestSizeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "mlopslab.headers.BrowserPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise, which sends static files compressed ahead of time; this compresses pages as they
    # go. Django's GZip pads each response with random bytes against BREACH-style guessing of the CSRF token.
    "mlopslab.compression.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "mlopslab.refusals.RefusalMiddleware",
    "mlopslab.database.DatabaseBusyMiddleware",
    # After the response: records a signed-in visit at most once a minute (community "who is here").
    "community.presence.PresenceMiddleware",
]

ROOT_URLCONF = "mlopslab.urls"
WSGI_APPLICATION = "mlopslab.wsgi.application"

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
                "mlopslab.context_processors.navigation",
                "community.context_processors.community",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
        # Persistent connections: a page reuses its process's connection instead of opening one per request.
        # The production ASGI app keeps Django on one thread per process (mlopslab/asgi.py), so each process
        # holds one connection; Django checks it is still usable before reusing it, so a restarted database
        # costs one failed check, not errors.
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 300),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and IMMEDIATE transactions let the web process and the workers write
    # to one SQLite file without "database is locked" errors. A writer waits at most
    # `timeout` seconds for another's lock; past that the request is refused with 503
    # (mlopslab.database) rather than holding a worker for longer.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 5,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not Django's shared in-memory database: its locks ignore the busy
    # timeout once a Celery worker thread writes beside the tests.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test_db.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # /healthz must answer within two seconds even when both PostgreSQL and Redis are gone.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 1

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "mlopslab.validators.NotBlankPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = DATA_DIR / "media"
# The first handler stops an upload past its view's size limit before the others write it anywhere.
FILE_UPLOAD_HANDLERS = [
    "mlopslab.limits.BoundedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Every file the Lab writes or reads (datasets, profiles, model files, bundles, drift uploads) goes through
# default_storage under keys the app makes: the local folder here, or an object store every host shares.
STORAGES = {
    "default": storage_from_environment(os.environ),
    # The manifest needs collectstatic, which development and tests never run.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# The studio's export may write the changed content files into lessons/content/ itself only in development,
# where the site runs from a checkout an instructor commits from; elsewhere it offers them as a download.
STUDIO_EXPORT_WRITES = env_bool("STUDIO_EXPORT_WRITES", DEBUG)

# Security settings that `manage.py check --deploy` asks for once DEBUG is off.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Sign-in and sign-up counters (mlopslab.throttle), shared by every web process. The short
    # timeouts keep a Redis that hangs from holding a login form for long; the throttle then lets it by.
    "throttle": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "mlopslab-throttle",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    },
}
# Limits a person never meets; a password-guessing script meets them at once.
LOGIN_FAILURES_PER_ACCOUNT = env_int("LOGIN_FAILURES_PER_ACCOUNT", 10, minimum=1)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 30, minimum=1)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60, minimum=1)
SIGNUPS_PER_ADDRESS = env_int("SIGNUPS_PER_ADDRESS", 5, minimum=1)
SIGNUP_WINDOW_SECONDS = env_int("SIGNUP_WINDOW_SECONDS", 60 * 60, minimum=1)


# Celery reads every CELERY_* name below (see mlopslab/celery.py).
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A job's time limits are the worker's own: jobs are sent without limits (sandbox.jobs.services), so
# each worker applies these from its environment, and the abandoned-job sweep, which runs on a
# worker too, judges by the same figures.
JOB_SOFT_TIME_LIMIT = env_int("JOB_SOFT_TIME_LIMIT", 120, minimum=1)
JOB_HARD_TIME_LIMIT = env_int("JOB_HARD_TIME_LIMIT", JOB_SOFT_TIME_LIMIT + 30, minimum=JOB_SOFT_TIME_LIMIT + 1)
# A message still unacknowledged this long after delivery lost its worker's main process and is
# handed to another worker. It must outlast the hard limit, or a job still running would be
# handed out twice.
JOB_REDELIVER_AFTER = JOB_HARD_TIME_LIMIT + max(5, JOB_HARD_TIME_LIMIT // 4)
CELERY_TASK_SOFT_TIME_LIMIT = JOB_SOFT_TIME_LIMIT
CELERY_TASK_TIME_LIMIT = JOB_HARD_TIME_LIMIT
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if not REDIS_URL.startswith("sentinel"):
    # kombu's Redis transport with a fix for the worker dying when Redis restarts (see mlopslab/broker.py).
    CELERY_BROKER_TRANSPORT = "mlopslab.broker:RedisTransport"
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1,
    "socket_timeout": 5,
    "visibility_timeout": JOB_REDELIVER_AFTER,
    # Each worker looks for such messages every 5 s (kombu's default is 100 s: 10 s × a throttle of 10).
    "unacked_restore_interval": 5,
    "unacked_restore_throttle": 1,
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"socket_connect_timeout": 1}
# A publish to an unreachable broker gives up quickly so that the learner hears
# about it at once instead of waiting on a spinning request.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "fail-abandoned-jobs": {"task": "sandbox.tasks.fail_abandoned_jobs", "schedule": 60.0},
    # A queued job whose message Redis lost is sent again within a minute (sandbox.jobs.services.jobs_send_again).
    "send-queued-jobs-again": {"task": "sandbox.tasks.send_queued_jobs_again", "schedule": 30.0},
    # Drift policies due by time or by requests, and canaries ready for promotion (sandbox.monitoring.services).
    "check-drift-policies": {"task": "sandbox.tasks.check_drift_policies", "schedule": 15.0},
}

# Queued plus running jobs one learner may have at once.
JOBS_PER_LEARNER = env_int("JOBS_PER_LEARNER", 3, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
