"""Settings of the example project, from the environment (twelve-factor).

``DATABASE_URL`` (default: SQLite file ``example_project/db.sqlite3``), ``REDIS_URL`` (the
cache and the throttle counters; default: a local-memory cache, and the throttle counters in
the database, which every gunicorn worker shares), ``SYNC_RATE_USER`` / ``SYNC_RATE_DEVICE``
(DRF rate strings for pushes, such as ``100/hour``) and ``SYNC_RATE_PULL_USER`` /
``SYNC_RATE_PULL_DEVICE`` (for pulls; defaults: the library's), ``SECRET_KEY``, ``DEBUG`` and
``ALLOWED_HOSTS`` (comma-separated), ``STATIC_ROOT`` (where ``collectstatic`` puts the
static files WhiteNoise serves; default ``example_project/staticfiles``). Scaling out:
``PULL_DATABASE_URL`` (a hot standby pulls read) and ``PGBOUNCER=1`` (``DATABASE_URL``
reaches PgBouncer in transaction-pooling mode).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import dj_database_url

from django_mobile_sync.domains import SyncDomain

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")
# The fallback key is for local demos only: set SECRET_KEY anywhere else.
SECRET_KEY = os.environ.get("SECRET_KEY", "insecure-example-project-key-set-SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from STATIC_ROOT: no CDN
    "django_mobile_sync",
    "django_mobile_sync.watermelondb",
    "django_mobile_sync.live",
    "django_mobile_sync.files",
    "field_ops",
]
MIDDLEWARE = [
    # Responses gzip when the device accepts it. Sync responses carry no CSRF token or
    # other secret next to attacker-chosen text, so this does not expose BREACH.
    "django.middleware.gzip.GZipMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's, Swagger UI's) from the app server itself, as gunicorn
    # serves none: `collectstatic` first (make example does).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "example.urls"
WSGI_APPLICATION = "example.wsgi.application"
ASGI_APPLICATION = "example.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# No health check by default: it is a `SELECT 1` before each request's first query (one
# round trip, 0.1-0.4 ms here), to spare the first request after a database restart on
# each worker; CONN_HEALTH_CHECKS=1 turns it on (docs/scaling.md#postgresql).
_HEALTH_CHECKS = os.environ.get("CONN_HEALTH_CHECKS", "") in ("1", "true", "True")
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=_HEALTH_CHECKS,
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Take the write lock when a transaction starts: SQLite then serializes writers
    # instead of failing one of them with "database is locked" halfway through a push.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif os.environ.get("TEST_DB_SUFFIX"):
    # tox runs several environments against one PostgreSQL server: one test database each.
    _suffix = re.sub(r"[^a-z0-9_]", "_", os.environ["TEST_DB_SUFFIX"].lower())
    DATABASES["default"]["TEST"] = {"NAME": f"test_example_{_suffix}"}

CACHES: dict[str, Any] = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
        if os.environ.get("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    ),
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or BASE_DIR / "media")
STORAGES = {
    # Photos (django_mobile_sync.files) live under MEDIA_ROOT; S3 through django-storages is
    # one STORAGES entry away (docs/files.md#storage).
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    },
    # collectstatic writes a gzipped copy of each file next to it; WhiteNoise serves it to
    # browsers that accept gzip. No manifest: templates render before collectstatic ran.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REST_FRAMEWORK = {
    # Bearer first: an unauthenticated request answers 401 with WWW-Authenticate: Bearer.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "django_mobile_sync.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Field operations sync API",
    "DESCRIPTION": (
        "The django-mobile-sync example project: offline-first push and pull of tasks, "
        "work orders and their checklists, attendance punches, helpdesk tickets and journal "
        "entries. Authenticate with `Authorization: Bearer <token>` "
        "(`manage.py sync_user USERNAME --client C --bu B [--create]`)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from drf-spectacular-sidecar's static files, so /api/docs/ works offline;
    # no validator badge (it would ask validator.swagger.io).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# The six domains: models in field_ops plus these declarations; no views or URLs, and one
# service (the author of a punch is who pushed it).
TENANCY: dict[str, Any] = {
    "tenant_fields": ["client", "bu"],
    "scope": "field_ops.tenancy.user_scope",
}
# Views (docs/views.md): a worker sees what is assigned to them and what is unassigned; a
# supervisor sees everything of the tenant. Assignees are users of the tenant, by username.
SUPERVISORS = "field_ops.roles.is_supervisor"
ASSIGNED: dict[str, Any] = {
    "view": {
        "key": "assignee",
        "user": "username",
        "unassigned": True,
        "sees_all": SUPERVISORS,
    },
    "related_scopes": {"assignee": "field_ops.roles.users_of_tenant"},
}

MOBILE_SYNC: dict[str, Any] = {
    "DOMAINS": [
        SyncDomain(
            name="activity",
            model="field_ops.Task",
            fields=[
                "jobdesc",
                "plandatetime",
                "expirydatetime",
                "gracetime",
                "priority",
                "jobstatus",
                "jobtype",
                "latitude",
                "longitude",
                "assignee",
            ],
            serializer="field_ops.serializers.TaskSerializer",
            status_field="jobstatus",
            transitions={"ASSIGNED": ["INPROGRESS"], "INPROGRESS": ["COMPLETED"], "COMPLETED": []},
            resolver="reject",
            **TENANCY,
            **ASSIGNED,
        ),
        SyncDomain(
            name="work-orders",
            model="field_ops.WorkOrder",
            fields=[
                "description",
                "status",
                "priority",
                "scheduled_start",
                "scheduled_end",
                "actual_start",
                "actual_end",
                "assignee",
            ],
            serializer="field_ops.serializers.WorkOrderSerializer",
            status_field="status",
            transitions={
                "draft": ["in_progress", "cancelled"],
                "in_progress": ["completed", "paused", "cancelled"],
                "paused": ["in_progress", "cancelled"],
                "completed": ["closed"],
                "closed": [],
                "cancelled": [],
            },
            filters={"status": "status"},
            resolver="reject",
            min_client_schema_version=2,  # apps of schema 1 lack actual_start / actual_end
            **TENANCY,
            **ASSIGNED,
        ),
        SyncDomain(
            name="attendance",
            model="field_ops.Attendance",
            fields=["event", "punched_at", "latitude", "longitude", "transport_mode", "author"],
            serializer="field_ops.serializers.AttendanceSerializer",
            service="field_ops.roles.AttendanceService",
            server_owned_fields=["author"],
            filters={"date_from": "punched_at__date__gte"},
            resolver="server_wins",
            # A punch is seen by its author and by supervisors.
            view={"key": "author", "user": "username", "sees_all": SUPERVISORS},
            **TENANCY,
        ),
        SyncDomain(
            name="helpdesk",
            model="field_ops.Ticket",
            fields=[
                "ticketdesc",
                "status",
                "priority",
                "is_escalated",
                "escalation_level",
                "ticket_history",
            ],
            status_field="status",
            transitions={
                "NEW": ["OPEN"],
                "OPEN": ["INPROGRESS", "ONHOLD"],
                "INPROGRESS": ["RESOLVED", "ONHOLD"],
                "ONHOLD": ["OPEN", "INPROGRESS", "CANCELLED"],
                "RESOLVED": ["CLOSED", "OPEN"],
                "CLOSED": [],
                "CANCELLED": [],
            },
            server_owned_fields=["is_escalated", "escalation_level"],
            history_field="ticket_history",
            filters={"priority": "priority"},
            resolver="merge",
            **TENANCY,
        ),
        SyncDomain(
            name="checklist",
            model="field_ops.ChecklistStep",
            fields=["work_order", "label", "done", "position"],
            resolver="merge",
            min_client_schema_version=2,
            view={"inherit": "work_order"},  # steps follow their work order
            **TENANCY,
        ),
        SyncDomain(
            name="photos",
            model="field_ops.Photo",
            # file: a file reference; pulls add file_available, file_size, file_content_type.
            fields=["work_order", "file", "caption", "taken_at"],
            resolver="merge",
            min_client_schema_version=2,
            view={"inherit": "work_order"},  # seen by whoever sees the work order
            **TENANCY,
        ),
        SyncDomain(
            name="journal",
            model="field_ops.JournalEntry",
            fields=["entry_date", "title", "body", "mood"],
            filters={"date_from": "entry_date__gte"},
            **TENANCY,
        ),
    ],
    # WatermelonDB apps sync at {prefix}watermelon/: a table per domain, named like it with
    # "-" as "_" (docs/clients/watermelondb.md).
    "WATERMELON": {
        "activity": "activity",
        "work_orders": "work-orders",
        "attendance": "attendance",
        "helpdesk": "helpdesk",
        "journal": "journal",
        "checklist": "checklist",
        "photos": "photos",
    },
}

# Files: the largest upload, from the environment (docs/files.md#limits).
if os.environ.get("SYNC_MAX_FILE_BYTES"):
    MOBILE_SYNC["MAX_FILE_BYTES"] = int(os.environ["SYNC_MAX_FILE_BYTES"])

# Throttle counters: in Redis when there is one; otherwise in the database, never in the
# local-memory cache, where each gunicorn worker would count on its own.
MOBILE_SYNC["THROTTLE_STORE"] = "cache" if os.environ.get("REDIS_URL") else "database"
_RATE_VARIABLES = {
    "user": "SYNC_RATE_USER",
    "device": "SYNC_RATE_DEVICE",
    "pull_user": "SYNC_RATE_PULL_USER",
    "pull_device": "SYNC_RATE_PULL_DEVICE",
}
_rates = {kind: os.environ[var] for kind, var in _RATE_VARIABLES.items() if os.environ.get(var)}
if _rates:
    MOBILE_SYNC["THROTTLE_RATES"] = _rates

# Live streams (docs/live.md): what wakes each server's detector when another commits.
# SYNC_LIVE_BACKEND: "poll" (the default: reads the change clock a few times a second, works
# everywhere), "redis" (the default when REDIS_URL is set) or "postgres" (LISTEN/NOTIFY,
# a direct connection to the primary: not through PgBouncer).
MOBILE_SYNC["LIVE_BACKEND"] = os.environ.get(
    "SYNC_LIVE_BACKEND", "redis" if os.environ.get("REDIS_URL") else "poll"
)
if os.environ.get("REDIS_URL"):
    MOBILE_SYNC["LIVE_REDIS_URL"] = os.environ["REDIS_URL"]
if os.environ.get("SYNC_STREAM_HEARTBEAT"):
    MOBILE_SYNC["STREAM_HEARTBEAT"] = float(os.environ["SYNC_STREAM_HEARTBEAT"])
if os.environ.get("SYNC_LIVE_SAFETY_INTERVAL"):  # with "redis" or "postgres"
    MOBILE_SYNC["LIVE_SAFETY_INTERVAL"] = float(os.environ["SYNC_LIVE_SAFETY_INTERVAL"])

# Scaling out (docs/scaling.md): pulls read a hot standby, PostgreSQL sits behind PgBouncer.
if os.environ.get("PULL_DATABASE_URL"):
    DATABASES["replica"] = dj_database_url.parse(
        os.environ["PULL_DATABASE_URL"],
        conn_max_age=DATABASES["default"]["CONN_MAX_AGE"],
        conn_health_checks=_HEALTH_CHECKS,
    )
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    MOBILE_SYNC["PULL_DATABASES"] = {"default": "replica"}
# Served on ASGI (example/asgi.py, as make example does): each request's sync code runs in a
# thread of its own, so a persistent connection would stay behind with the thread. Requests
# take their connection from a pool of the process instead (Django closes it back at the
# end of the request), which keeps the cost of a new connection off every push and pull.
if env_bool("EXAMPLE_ASGI"):
    for _database in DATABASES.values():
        if _database["ENGINE"] == "django.db.backends.postgresql":
            _database["CONN_MAX_AGE"] = 0
            _database.setdefault("OPTIONS", {})["pool"] = {
                "min_size": 2,
                "max_size": int(os.environ.get("DB_POOL_SIZE", "20")),
                "timeout": 20,
            }
if env_bool("PGBOUNCER"):
    # Transaction pooling: no server-side cursors (a QuerySet.iterator() outside a
    # transaction would lose its cursor). Prepared statements are already off: Django's
    # default with psycopg 3.
    for _database in DATABASES.values():
        _database["DISABLE_SERVER_SIDE_CURSORS"] = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
