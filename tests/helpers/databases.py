"""Tenants on two primaries in tests: the ``routed-notes`` domain (users whose name starts
with ``other`` write to the ``other`` database), a client per user, rates, threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connections
from django.test import override_settings
from rest_framework.test import APIClient

DOMAIN = "routed-notes"


def client_of(user: User) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def rates(**values: str | None) -> Any:
    return override_settings(
        MOBILE_SYNC={**settings.MOBILE_SYNC, "THROTTLE_RATES": {"device": None, **values}}
    )


def run_threads(target: Callable[..., Any], args: list[tuple[Any, ...]]) -> list[Any]:
    results: list[Any] = [None] * len(args)
    errors: list[BaseException] = []

    def run(index: int, *values: Any) -> None:
        try:
            results[index] = target(*values)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, *a)) for i, a in enumerate(args)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    if errors:
        raise errors[0]
    return results
