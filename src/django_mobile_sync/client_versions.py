"""TEMPORARY stub: replaced by the schema426 branch."""

from __future__ import annotations

from collections.abc import Iterable

from .domains import SyncDomain


def check_client_schema(
    version: str | int | None,
    domains: Iterable[SyncDomain],
    *,
    source: str = "X-Client-Schema-Version",
) -> None:
    return None
