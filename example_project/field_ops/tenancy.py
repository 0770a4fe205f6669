"""The tenant of a request: the client and business unit of the user's profile."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request

from .models import UserProfile


def user_scope(request: Request) -> dict[str, Any]:
    """``{"client": ..., "bu": ...}`` of the requesting user (every sync domain's ``scope``)."""
    profile = (
        UserProfile.objects.select_related("client", "bu").filter(user_id=request.user.pk).first()
    )
    if profile is None:
        raise PermissionDenied(
            "This user belongs to no client and business unit; create a profile for it "
            "(manage.py sync_user USERNAME --client C --bu B [--create])."
        )
    return {"client": profile.client, "bu": profile.bu}
