"""Fixtures: demo tenants, and devices that talk HTTP with real Bearer tokens."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings

from field_ops.models import BusinessUnit
from field_ops.tenants import ensure_user
from tests.helpers.devices import Device, new_id

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def _flush_by_delete() -> None:
    """On PostgreSQL every test commits, so Django empties the test database after each one
    (``flush``). Its ``TRUNCATE`` gives every table and index new files: a tenth of a second
    on an idle machine, seconds on a busy one. A test's tables hold a handful of rows:
    ``DELETE`` empties them in milliseconds, foreign keys checked at commit (Django declares
    them deferrable). Nothing in the project acts on a delete in the database (no trigger),
    and ``reset_sequences`` still takes Django's way. (The library's tests/conftest.py does
    the same.)
    """
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush

    def sql_flush(
        self: Any,
        style: Any,
        tables: Any,
        *,
        reset_sequences: bool = False,
        allow_cascade: bool = False,
    ) -> list[str]:
        if reset_sequences or not tables:
            return truncate(
                self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        return ["SET CONSTRAINTS ALL DEFERRED;"] + [
            f"DELETE FROM {self.quote_name(table)};" for table in tables
        ]

    DatabaseOperations.sql_flush = sql_flush  # type: ignore[method-assign]


if ON_POSTGRES:
    _flush_by_delete()


def pytest_configure(config: Any) -> None:
    """WhiteNoise warns about a missing STATIC_ROOT on every request of a fresh clone's tests
    (``make example`` runs collectstatic first): give it the empty directory."""
    from pathlib import Path

    from django.conf import settings

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """On PostgreSQL every test commits for real.

    A pull only serves rows of finished transactions; inside the one open transaction of a
    non-transactional test it would see nothing. Browser tests use no test database (they
    talk to a served example): Playwright runs an event loop in this thread, under which
    Django refuses database calls.

    ``NODE_TESTS=off`` (``make test`` without Node.js 20+ and npm) deselects the tests marked
    ``node``, and the summary says so.
    """
    if os.environ.get("NODE_TESTS") == "off":
        node = [item for item in items if item.get_closest_marker("node")]
        items[:] = [item for item in items if not item.get_closest_marker("node")]
        config.hook.pytest_deselected(items=node)
    if ON_POSTGRES:
        for item in items:
            if not item.get_closest_marker("browser"):
                item.add_marker(pytest.mark.django_db(transaction=True))


@pytest.fixture(autouse=True)
def _own_cache(settings: Any) -> None:
    """A fresh local-memory cache per test: throttle counters start at zero, and a REDIS_URL
    in the environment is never written to."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": new_id(),
        }
    }


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Passwords of this process hashed with MD5, as the library's tests/settings.py does.

    PBKDF2 (example.settings) costs about a quarter of a second per hash, and ``seed_demo``'s
    admin is created and its password checked in every test that seeds the demo (each
    operation of test_schemathesis.py does). The servers the live tests start are other
    processes: they hash for real.
    """
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _own_media(settings: Any, tmp_path: Any) -> None:
    """Files (photos) of a test in a directory of its own, never the project's MEDIA_ROOT."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }


@pytest.fixture
def make_device(db: Any) -> Callable[..., Device]:
    def make(username: str, client: str = "Acme Facilities", bu: str = "Downtown Tower") -> Device:
        user, token = ensure_user(username, client, bu)
        return Device(user, token, f"{username}-phone")

    return make


@pytest.fixture
def alice(make_device: Callable[..., Device]) -> Device:
    return make_device("alice")


@pytest.fixture
def bob(make_device: Callable[..., Device]) -> Device:
    """Alice's colleague: same client and business unit, another device."""
    return make_device("bob")


@pytest.fixture
def gina(make_device: Callable[..., Device]) -> Device:
    """A user of another client."""
    return make_device("gina", "Globex Services", "Harbour Depot")


@pytest.fixture
def geofence(alice: Device) -> BusinessUnit:
    """Alice's business unit gets a 300 m geofence around London Bridge station."""
    bu = alice.user.profile.bu
    bu.geofence_latitude, bu.geofence_longitude, bu.geofence_radius_m = 51.5049, -0.0863, 300
    bu.save()
    return bu


@pytest.fixture(scope="session")
def live_example(tmp_path_factory: Any) -> Any:
    """The example project under gunicorn (two workers) on a fresh database of its own."""
    from tests.helpers.live import LiveExample

    with LiveExample(tmp_path_factory.mktemp("live"), "shared") as server:
        yield server


@pytest.fixture(scope="session")
def demo_example(tmp_path_factory: Any) -> Any:
    """The example as ``make example`` serves it: static files collected, the demo tenants,
    users, records and admin login seeded (``demo_tokens``: the demo users' tokens)."""
    from tests.helpers.live import LiveExample

    with LiveExample(tmp_path_factory.mktemp("demo"), "demo") as server:
        server.seed_demo()
        yield server


@pytest.fixture(scope="session")
def node_example(tmp_path_factory: Any) -> Any:
    """The example under gunicorn for the real client packages of ``clients/``.

    A database of its own (the tests purge tombstones, which every tenant of a domain
    shares), and push rates that a replicating client in a test cannot exceed.
    """
    from tests.helpers.live import LiveExample

    rates = {
        f"SYNC_RATE_{kind}": "100000/hour"
        for kind in ("USER", "DEVICE", "PULL_USER", "PULL_DEVICE")
    }
    with LiveExample(tmp_path_factory.mktemp("node"), "node", env=rates) as server:
        yield server


@pytest.fixture(scope="session")
def clients() -> Any:
    """``clients/`` installed, packed, built and its example app compiled (the tests marked
    ``node``): once per session, for every module that runs the real client packages."""
    from tests.helpers.node_clients import node_project

    return node_project()


def pytest_deselected(items: list[Any]) -> None:
    node = [item for item in items if item.get_closest_marker("node")]
    if node:
        config = node[0].config
        config._node_deselected = getattr(config, "_node_deselected", 0) + len(node)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    """Say it when tests were left out: the ones that start servers (tox runs them in its
    py312 environments, once per database backend), or the Node clients' (no Node.js)."""
    expression = config.option.markexpr or ""
    if "not live" in expression or "not browser" in expression:
        terminalreporter.write_line(
            f"example project: tests that start servers deselected here (-m '{expression}'); "
            "tox runs them once per database backend, in py312-dj6-sqlite and "
            "py312-dj6-postgres"
        )
    count = getattr(config, "_node_deselected", 0)
    if count and os.environ.get("NODE_TESTS") == "off":
        terminalreporter.write_line(
            f"django-mobile-sync: {count} tests of the real clients (marker `node`) "
            "deselected: Node.js 20+ or npm was not found (install them to run these tests)."
        )
