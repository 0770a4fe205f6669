from __future__ import annotations

from typing import Any

from rest_framework.exceptions import PermissionDenied


def org_scope(request: Any) -> dict[str, Any]:
    member = getattr(request.user, "member", None)
    if member is None:
        raise PermissionDenied("This user belongs to no organisation.")
    return {"org": member.org}


def big_database(request: Any) -> str:
    """The ``tasks-big`` domain reads the pull benchmark's large table."""
    return "big"


#: The views benchmark's extra keys per username (a user gaining access: a backfill).
EXTRA_KEYS: dict[str, set[str]] = {}


def extra_keys(user: Any) -> set[str]:
    return EXTRA_KEYS.get(user.get_username(), set())
