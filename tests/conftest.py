from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from tests.testapp.models import Member, Org

#: The servers the scale-out tests start (a streaming replica, PgBouncer) and their fixtures.
pytest_plugins = ["tests.pgservers"]

PUSH_URL = "/api/sync/{}/sync/"
PULL_URL = "/api/sync/{}/changes/"


ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """On PostgreSQL every test commits for real.

    A pull only serves rows of transactions that have finished (see docs/cursor.md); inside
    the one open transaction of a non-transactional test it would see nothing.
    """
    postgres_only = [item for item in items if item.get_closest_marker("postgres")]
    if not ON_POSTGRES and postgres_only:
        # Said out loud in the summary, never skipped silently: the PostgreSQL run has them.
        config.hook.pytest_deselected(items=postgres_only)
        items[:] = [item for item in items if item not in postgres_only]
        config._mobile_sync_deselected = len(postgres_only)
    for item in items:
        if ON_POSTGRES or item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.django_db(transaction=True, databases="__all__"))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    count = getattr(config, "_mobile_sync_deselected", 0)
    backend = "PostgreSQL" if ON_POSTGRES else "SQLite"
    terminalreporter.write_line(f"django-mobile-sync: database backend {backend}")
    if count:
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


@pytest.fixture(autouse=True)
def _fresh_throttle_counters() -> None:
    from django.core.cache import cache

    cache.clear()  # the database store's rows go with each test's transaction


def reset_throttles() -> None:
    """Every throttle counter back to zero, in both stores (within a test that pushes more
    than a rate allows, such as a hypothesis test's examples)."""
    from django.core.cache import cache

    from django_mobile_sync.models import ThrottleCounter

    cache.clear()
    ThrottleCounter.objects.all().delete()


def new_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def org(db: Any) -> Org:
    return Org.objects.create(name="Acme")


@pytest.fixture
def other_org(db: Any) -> Org:
    return Org.objects.create(name="Globex")


def make_user(username: str, org: Org | None) -> User:
    user = User.objects.create_user(username, password="x")
    if org is not None:
        Member.objects.create(user=user, org=org)
    return user


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


def push(api: APIClient, entries: list[Any], domain: str = "tasks", **extra: Any) -> Any:
    headers = extra.pop("headers", {})
    body = {"entries": entries, "client_id": "device-1", **extra}
    return api.post(PUSH_URL.format(domain), body, format="json", headers=headers)


def pull(api: APIClient, domain: str = "tasks", **params: Any) -> Any:
    return api.get(PULL_URL.format(domain), params)


def pull_all(
    api: APIClient, domain: str = "tasks", cursor: str | None = None, **params: Any
) -> tuple[list[dict[str, Any]], str]:
    """Follow next_cursor until has_more is false."""
    items: list[dict[str, Any]] = []
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        page = pull(api, domain, **query)
        assert page.status_code == 200, page.content
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if not page.json()["has_more"]:
            return items, cursor


@pytest.fixture
def domain_options() -> Callable[..., Any]:
    """``with domain_options(resolver="merge"):`` re-declares the tasks domain."""

    def patch(name: str = "tasks", **changes: Any) -> Any:
        domains = [
            replace(d, **changes) if getattr(d, "name", None) == name else d
            for d in settings.MOBILE_SYNC["DOMAINS"]
        ]
        return override_settings(MOBILE_SYNC={**settings.MOBILE_SYNC, "DOMAINS": domains})

    return patch
