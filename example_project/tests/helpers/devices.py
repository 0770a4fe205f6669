"""A user's phone in the example's tests: an API client with the user's Bearer token."""

from __future__ import annotations

import uuid
from typing import Any

from rest_framework.test import APIClient

#: Where the example serves the sync API.
PREFIX = "/api/v1/sync/"


def new_id() -> str:
    return str(uuid.uuid4())


class Device:
    """A user's phone: an API client with the user's Bearer token."""

    def __init__(self, user: Any, token: str, device_id: str) -> None:
        self.user, self.token, self.device_id = user, token, device_id
        self.api = APIClient()
        self.api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    def push(
        self, domain: str, entries: list[dict[str, Any]], key: str | None = None, **envelope: Any
    ) -> Any:
        headers = {"X-Device-Id": self.device_id}
        if key is not None:
            headers["Idempotency-Key"] = key
        body = {"entries": entries, "client_id": self.device_id, **envelope}
        return self.api.post(f"{PREFIX}{domain}/sync/", body, format="json", headers=headers)

    def push_one(self, domain: str, entry: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Push one entry; its list (``synced_items``, ``conflicts``, ``errors``) and item."""
        response = self.push(domain, [entry])
        assert response.status_code == 200, response.content
        body = response.json()
        [(kind, item)] = [(k, i) for k in ("synced_items", "conflicts", "errors") for i in body[k]]
        return kind, item

    def pull(self, domain: str, **params: Any) -> Any:
        return self.api.get(f"{PREFIX}{domain}/changes/", params)

    def pull_all(
        self, domain: str, cursor: str | None = None, **params: Any
    ) -> tuple[list[dict[str, Any]], str]:
        """Follow next_cursor until has_more is false."""
        items: list[dict[str, Any]] = []
        while True:
            page = self.pull(domain, **params, **({"cursor": cursor} if cursor else {}))
            assert page.status_code == 200, page.content
            items += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if not page.json()["has_more"]:
                return items, cursor

    def record(self, domain: str, mobile_id: str) -> dict[str, Any] | None:
        """The latest pulled state of one record (None if this device cannot see it)."""
        items, _ = self.pull_all(domain)
        found = [item for item in items if item["mobile_id"] == mobile_id]
        return found[-1] if found else None
