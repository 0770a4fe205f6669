"""Permission classes the tests name by import path."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission


class DenyAll(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return False
