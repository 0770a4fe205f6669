"""Fixtures of the concurrency tests (PostgreSQL, real threads)."""

from __future__ import annotations

from typing import Any

import pytest

from django_mobile_sync.domains import get_domain


@pytest.fixture
def tasks_domain() -> Any:
    return get_domain("tasks")
