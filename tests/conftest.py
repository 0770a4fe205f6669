"""Fixtures and collection rules of the library's suite.

The backend-bound markers are deselected out loud, never skipped silently: ``postgres``
tests on SQLite, ``sqlite`` tests on PostgreSQL (the summary says how many, and which run
executes them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from django_mobile_sync.domains import SyncDomain
from tests.helpers.api import make_user
from tests.testapp.models import Org

#: The servers the scale-out tests start (a streaming replica, PgBouncer) and their fixtures.
pytest_plugins = ["tests.helpers.pgservers"]

ON_POSTGRES = str(settings.DATABASES["default"]["ENGINE"]).endswith("postgresql")


def _flush_by_delete() -> None:
    """On PostgreSQL every test commits, so Django empties both test databases after each one
    (``flush``). Its ``TRUNCATE`` of every table gives each table and index new files: about
    0.12 s per database on an idle machine, seconds on a busy one, ~1300 times per run. The
    tables of a test hold a handful of rows: ``DELETE`` empties them in a few milliseconds,
    foreign keys checked at commit (Django declares them deferrable). No trigger of the
    library or the tests acts on a delete, and no test relies on a flush resetting sequences
    (it never did: ``reset_sequences`` still takes Django's way).
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

#: The marker of the tests the other backend runs, and that backend's name.
OTHER_BACKEND = ("sqlite", "SQLite") if ON_POSTGRES else ("postgres", "PostgreSQL")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Deselect the other backend's tests; on PostgreSQL every test commits for real.

    A pull only serves rows of transactions that have finished (see docs/cursor.md); inside
    the one open transaction of a non-transactional test it would see nothing.
    """
    marker, _backend = OTHER_BACKEND
    other = [item for item in items if item.get_closest_marker(marker)]
    if other:
        # Said out loud in the summary, never skipped silently: the other run has them.
        config.hook.pytest_deselected(items=other)
        items[:] = [item for item in items if item not in other]
        config._mobile_sync_deselected = len(other)
    for item in items:
        if ON_POSTGRES or item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.django_db(transaction=True, databases="__all__"))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    count = getattr(config, "_mobile_sync_deselected", 0)
    backend = "PostgreSQL" if ON_POSTGRES else "SQLite"
    terminalreporter.write_line(f"django-mobile-sync: database backend {backend}")
    if count and ON_POSTGRES:
        terminalreporter.write_line(
            f"django-mobile-sync: {count} SQLite-only tests deselected on PostgreSQL "
            "(the SQLite run executes them: unset DATABASE_URL)"
        )
    elif count:
        terminalreporter.write_line(
            f"django-mobile-sync: {count} PostgreSQL-only tests deselected on SQLite "
            "(the PostgreSQL run executes them: set DATABASE_URL)"
        )
    if ON_POSTGRES and "not replica" in (config.getoption("markexpr") or ""):
        terminalreporter.write_line(
            "django-mobile-sync: the tests that start a streaming replica and PgBouncer "
            "(marker 'replica') are deselected here: tox runs them once, in py312-dj6-postgres"
        )


@pytest.fixture(autouse=True)
def _require_backend(request: Any) -> None:
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.fail(
            "This test needs PostgreSQL: run it with DATABASE_URL set "
            "(tox deselects it on SQLite with -m 'not postgres')."
        )
    if request.node.get_closest_marker("sqlite") and connection.vendor != "sqlite":
        pytest.fail("This test needs SQLite: run it without DATABASE_URL.")


@pytest.fixture(autouse=True)
def _fresh_throttle_counters() -> None:
    from django.core.cache import cache

    cache.clear()  # the database store's rows go with each test's transaction


@pytest.fixture
def org(db: Any) -> Org:
    return Org.objects.create(name="Acme")


@pytest.fixture
def other_org(db: Any) -> Org:
    return Org.objects.create(name="Globex")


@pytest.fixture
def user(org: Org) -> User:
    return make_user("alice", org)


@pytest.fixture
def other_user(other_org: Org) -> User:
    return make_user("mallory", other_org)


@pytest.fixture
def client(user: User) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


@pytest.fixture
def client_for() -> Callable[[User], APIClient]:
    def build(u: User) -> APIClient:
        api = APIClient()
        api.force_authenticate(u)
        return api

    return build


@pytest.fixture
def domain_options() -> Callable[..., Any]:
    """``with domain_options(resolver="merge"):`` re-declares the tasks domain."""

    def patch(name: str = "tasks", **changes: Any) -> Any:
        domains = [
            replace(d, **changes) if isinstance(d, SyncDomain) and d.name == name else d
            for d in settings.MOBILE_SYNC["DOMAINS"]
        ]
        return override_settings(MOBILE_SYNC={**settings.MOBILE_SYNC, "DOMAINS": domains})

    return patch
