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


class WatermelonDevice:
    """A device's local database as WatermelonDB keeps it (``src/sync/impl/applyRemote.js``):
    each pull applied per table, and every answer WatermelonDB would log as a server error
    kept in ``errors`` (a ``created`` record it holds, an ``updated`` one it does not, an id
    twice in one change set)."""

    def __init__(self, api: APIClient, tables: list[str]) -> None:
        self.api = api
        self.held: dict[str, dict[str, dict[str, Any]]] = {table: {} for table in tables}
        self.timestamp: int | None = None
        self.errors: list[tuple[str, str, str]] = []
        self.last: dict[str, Any] = {}

    def sync(self, *, lose: bool = False) -> dict[str, Any]:
        """One pull; a lost answer changes nothing on the device."""
        body = pull(self.api, self.timestamp)
        if lose:
            return body
        replacement = body.get("experimentalStrategy") == "replacement"
        for table, changes in body["changes"].items():
            held = self.held[table]
            listed = [r["id"] for r in changes["created"] + changes["updated"]]
            listed += changes["deleted"]
            self.errors += [
                ("twice", table, i) for i in sorted(set(listed)) if listed.count(i) > 1
            ]
            if replacement:
                sent = {r["id"] for r in changes["created"] + changes["updated"]}
                held = self.held[table] = {k: v for k, v in held.items() if k in sent}
            for raw in changes["created"]:
                if raw["id"] in held:
                    self.errors.append(("created but held", table, raw["id"]))
                held[raw["id"]] = raw
            for raw in changes["updated"]:
                if raw["id"] not in held and not replacement:
                    self.errors.append(("updated but absent", table, raw["id"]))
                held[raw["id"]] = raw
            for gone in changes["deleted"]:
                held.pop(gone, None)
        self.timestamp = body["timestamp"]
        self.last = body
        return body
