"""Settings of the benchmarks: the bench app on SQLite or PostgreSQL (``BENCH_DB``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django_mobile_sync.domains import SyncDomain

HERE = Path(__file__).resolve().parent
BACKEND = os.environ.get("BENCH_DB", "sqlite")
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://root@127.0.0.1:5432/postgres")

SECRET_KEY = "benchmarks-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "benchmarks.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "rest_framework.authtoken",
    "django_mobile_sync",
    "django_mobile_sync.watermelondb",
    "django_mobile_sync.files",
    "benchmarks.benchapp",
]
# The files benchmark writes its uploads here (and a direct write of the same bytes).
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(HERE / ".data" / "files")},
    },
}
# A token-authenticated API: no sessions, CSRF or auth middleware (DRF authenticates).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
if BACKEND == "postgresql":
    import dj_database_url

    _pg = dj_database_url.parse(PG_URL)
    DATABASES = {"default": {**_pg, "NAME": os.environ.get("BENCH_DB_NAME", "bench_dms")}}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(
                HERE / ".data" / f"{os.environ.get('BENCH_DB_NAME', 'bench_dms')}.sqlite3"
            ),
            "OPTIONS": {"transaction_mode": "IMMEDIATE"},
        }
    }

if os.environ.get("BENCH_DB_BIG"):
    # The pull benchmark's second table, on its own database: pages of a small and of a
    # large table are timed alternately, in the same process.
    _big = os.environ["BENCH_DB_BIG"]
    DATABASES["big"] = {
        **DATABASES["default"],
        "NAME": _big if BACKEND == "postgresql" else str(HERE / ".data" / f"{_big}.sqlite3"),
    }

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Both domains serve benchapp.Task; "tasks-big" reads the pull benchmark's large table.
_TASKS: dict[str, Any] = {
    "model": "benchapp.Task",
    "fields": ["title", "status", "priority", "notes", "due_at", "history"],
    "tenant_fields": ["org"],
    "scope": "benchmarks.benchapp.scopes.org_scope",
}
MOBILE_SYNC = {
    "DOMAINS": [
        SyncDomain(
            name="tasks",
            **_TASKS,
            status_field="status",
            transitions={"todo": ["doing"], "doing": ["done", "todo"], "done": []},
            history_field="history",
            filters={"status": "status"},
        ),
        SyncDomain(name="tasks-big", **_TASKS, database="benchmarks.benchapp.scopes.big_database"),
        # The views benchmark: the same tasks, each seen by its assignee (docs/views.md).
        SyncDomain(
            name="jobs",
            **_TASKS,
            view={
                "key": "assignee",
                "user": "username",
                "user_keys": "benchmarks.benchapp.scopes.extra_keys",
            },
        ),
        # The multi-domain benchmark: steps of tasks (a child domain), and visits.
        SyncDomain(
            name="steps",
            model="benchapp.Step",
            fields=["task", "label", "done", "position"],
            tenant_fields=["org"],
            scope="benchmarks.benchapp.scopes.org_scope",
        ),
        SyncDomain(
            name="visits",
            model="benchapp.Visit",
            fields=["site", "note"],
            tenant_fields=["org"],
            scope="benchmarks.benchapp.scopes.org_scope",
        ),
    ],
    # Throttles stay in the stack (same work as in production) but never refuse.
    "THROTTLE_RATES": {"user": None, "device": None, "pull_user": None, "pull_device": None},
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
