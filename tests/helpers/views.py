"""Views (docs/views.md) in tests: a device that holds what it pulled, visits and steps
created and reassigned by a supervisor."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.helpers.api import new_id, pull_all, push
from tests.testapp.models import Visit


class Device:
    """A device of one user: what it holds, updated by pulls as a client would."""

    def __init__(self, api: APIClient, domain: str = "visits") -> None:
        self.api, self.domain = api, domain
        self.cursor: str | None = None
        self.held: dict[str, dict[str, Any]] = {}
        self.last: list[dict[str, Any]] = []

    def sync(self, **params: Any) -> list[dict[str, Any]]:
        items, self.cursor = pull_all(self.api, self.domain, self.cursor, **params)
        for item in items:
            if item["deleted"]:
                self.held.pop(item["mobile_id"], None)
            else:
                self.held[item["mobile_id"]] = item
        self.last = items
        return items


def create(api: APIClient, assignee: User | None, note: str = "", **fields: Any) -> str:
    mobile_id = new_id()
    entry = {"mobile_id": mobile_id, "version": 0, "note": note, **fields}
    entry["assignee"] = assignee.pk if assignee else None
    answer = push(api, [entry], "visits")
    assert answer.status_code == 200 and not answer.json()["errors"], answer.content
    return mobile_id


def reassign(api: APIClient, mobile_id: str, to: User | None) -> Any:
    version = Visit.all_objects.get(mobile_id=mobile_id).version
    entry = {"mobile_id": mobile_id, "version": version, "assignee": to.pk if to else None}
    return push(api, [entry], "visits")


def visit_with_steps(api: APIClient, assignee: User, count: int) -> tuple[str, list[str]]:
    visit, steps = create(api, assignee), [new_id() for _ in range(count)]
    entries = [{"mobile_id": s, "version": 0, "visit": visit, "label": s} for s in steps]
    answer = push(api, entries, "visit-steps")
    assert not answer.json()["errors"], answer.content
    return visit, steps


def ids(items: list[dict[str, Any]]) -> list[str]:
    return sorted(item["mobile_id"] for item in items)
