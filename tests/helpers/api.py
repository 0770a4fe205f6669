"""A test device on the sync API: the URLs, a push, a pull, pulling to the end (one domain
or several), a new record id, a user of a tenant, and throttle counters back to zero."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import User
from rest_framework.test import APIClient

from django_mobile_sync.domains import SyncDomain, get_domain
from tests.testapp.models import Member, Org

PUSH_URL = "/api/sync/{}/sync/"


PULL_URL = "/api/sync/{}/changes/"


SYNC, CHANGES = "/api/sync/sync/", "/api/sync/changes/"


def new_id() -> str:
    return str(uuid.uuid4())


def make_user(username: str, org: Org | None) -> User:
    user = User.objects.create_user(username, password="x")
    if org is not None:
        Member.objects.create(user=user, org=org)
    return user


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


def multi_push(api: Any, domains: dict[str, list[Any]], **extra: Any) -> Any:
    headers = extra.pop("headers", {})
    body = {"client_id": "device-1", "domains": {k: {"entries": v} for k, v in domains.items()}}
    return api.post(SYNC, {**body, **extra}, format="json", headers=headers)


def multi_pull_all(api: Any, cursor: str | None = None, **params: Any) -> Any:
    pages = []
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        page = api.get(CHANGES, query)
        assert page.status_code == 200, page.content
        pages.append(page.json())
        cursor = page.json()["next_cursor"]
        if not page.json()["has_more"]:
            return pages, cursor


def reset_throttles() -> None:
    """Every throttle counter back to zero, in both stores (within a test that pushes more
    than a rate allows, such as a hypothesis test's examples)."""
    from django.core.cache import cache

    from django_mobile_sync.models import ThrottleCounter

    cache.clear()
    ThrottleCounter.objects.all().delete()


def declared_domain(name: str) -> SyncDomain:
    """The domain ``name`` of the test settings."""
    found = get_domain(name)
    assert found is not None, f"the test settings declare no domain {name!r}"
    return found
