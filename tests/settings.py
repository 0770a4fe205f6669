"""Settings of the library's own test suite: SQLite by default, PostgreSQL via DATABASE_URL."""

from __future__ import annotations

import os
import re

import dj_database_url

from django_mobile_sync.domains import SyncDomain

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "rest_framework",
    "rest_framework.authtoken",
    "django_mobile_sync",
    "django_mobile_sync.watermelondb",
    "django_mobile_sync.live",
    "django_mobile_sync.files",
    "tests.testapp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
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

_suffix = re.sub(r"[^a-z0-9_]", "_", os.environ.get("TEST_DB_SUFFIX", "local").lower())
if os.environ.get("DATABASE_URL"):
    _default = dj_database_url.parse(os.environ["DATABASE_URL"])
    DATABASES = {
        "default": {**_default, "TEST": {"NAME": f"test_dms_{_suffix}"}},
        "other": {**_default, "TEST": {"NAME": f"test_dms_{_suffix}_other"}},
        # The hot standby the replica tests start (tests/helpers/pgservers.py) points it at itself.
        "replica": {**_default, "TEST": {"MIRROR": "default"}},
    }
else:
    _sqlite = {
        "ENGINE": "django.db.backends.sqlite3",
        "OPTIONS": {"transaction_mode": "IMMEDIATE"},
    }
    DATABASES = {
        "default": {**_sqlite, "NAME": "dms_test_default.sqlite3"},
        "other": {**_sqlite, "NAME": "dms_test_other.sqlite3"},
    }

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
}

TASK_TRANSITIONS = {"todo": ["doing"], "doing": ["done", "todo"], "done": []}

MOBILE_SYNC = {
    "DOMAINS": [
        SyncDomain(
            name="tasks",
            model="testapp.Task",
            fields=[
                "title",
                "status",
                "priority",
                "notes",
                "approved",
                "history",
                "client_updated_at",
                "due_at",
            ],
            tenant_fields=["org"],
            scope="tests.testapp.scopes.org_scope",
            status_field="status",
            transitions=TASK_TRANSITIONS,
            server_owned_fields=["approved"],
            history_field="history",
            client_timestamp_field="client_updated_at",
            filters={"status": "status", "priority": "priority", "due_from": "due_at__date__gte"},
        ),
        SyncDomain(name="notes", model="testapp.Note"),
        *[
            SyncDomain(
                name=name,
                model=f"testapp.{model}",
                fields=fields,
                tenant_fields=["org"],
                scope="tests.testapp.scopes.org_scope",
            )
            for name, model, fields in [
                ("checkitems", "Checkitem", ["task", "label", "done", "after"]),
                ("attachments", "Attachment", ["task", "name"]),
                ("reminders", "Reminder", ["task", "text"]),
                ("labels", "Label", ["name"]),
                ("folders", "Folder", ["name", "parent"]),  # text ids
                ("sheets", "Sheet", ["folder", "task", "title"]),  # text ids
            ]
        ],
        SyncDomain(
            name="visits",
            model="testapp.Visit",
            fields=["site", "assignee", "note"],  # foreign keys to models that are not synced
            tenant_fields=["org"],
            scope="tests.testapp.scopes.org_scope",
            related_scopes={"assignee": "tests.testapp.scopes.users_of_org"},
        ),
        {
            "name": "routed-notes",
            "model": "testapp.Note",
            "database": "tests.testapp.scopes.database_for_user",
        },
    ],
    # WatermelonDB tables need text ids; tests/watermelondb/ also maps the UUID domains
    # tasks and checkitems (the protocol's rules do not depend on the kind of id).
    "WATERMELON": {"folders": "folders", "sheets": "sheets"},
}

# Files (django_mobile_sync.files): the tests give each run a directory of its own.
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": os.path.join(os.environ.get("TMPDIR", "/tmp"), f"dms_files_{_suffix}")
        },
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
