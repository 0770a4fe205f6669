"""A test device on the WatermelonDB endpoint: its pull, its push of a changes object, and
the tables the WatermelonDB tests map (``tasks`` and ``checkitems``, UUID ids; see
``tests/watermelondb/conftest.py``)."""

from __future__ import annotations

import json
from typing import Any

from rest_framework.test import APIClient

URL = "/api/sync/watermelon/"


TABLES = {"tasks": "tasks", "checkitems": "checkitems"}


def watermelon_settings() -> dict[str, Any]:
    from django.conf import settings

    return dict(settings.MOBILE_SYNC)


def pull(api: APIClient, last_pulled_at: Any = None, **params: Any) -> dict[str, Any]:
    response = pull_response(api, last_pulled_at, **params)
    assert response.status_code == 200, response.content
    return response_json(response)


def pull_response(api: APIClient, last_pulled_at: Any = None, **params: Any) -> Any:
    query = {"last_pulled_at": "null" if last_pulled_at is None else last_pulled_at}
    headers = {"X-Device-Id": params.pop("device", "phone-1")}
    return api.get(URL, {**query, **params}, headers=headers)


def response_json(response: Any) -> Any:
    if response.streaming:
        return json.loads(b"".join(response.streaming_content))
    return response.json()


def push_changes(
    api: APIClient,
    last_pulled_at: Any,
    changes: dict[str, Any],
    device: str = "phone-1",
    *,
    wrapped: bool = False,
) -> Any:
    """WatermelonDB's documented push: the changes object itself is the body."""
    query = "" if last_pulled_at is None else f"?last_pulled_at={last_pulled_at}"
    body = {"changes": changes} if wrapped else changes
    return api.post(URL + query, body, format="json", headers={"X-Device-Id": device})


def change_set(created=(), updated=(), deleted=()) -> dict[str, list[Any]]:
    return {"created": list(created), "updated": list(updated), "deleted": list(deleted)}


def ids(records: list[dict[str, Any]]) -> list[str]:
    return sorted(record["id"] for record in records)
