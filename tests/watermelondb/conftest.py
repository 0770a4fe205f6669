"""Fixtures of the WatermelonDB tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from tests.helpers.watermelon import TABLES, watermelon_settings


@pytest.fixture
def uuid_tables() -> Iterator[None]:
    """The WatermelonDB tables ``tasks`` and ``checkitems`` (UUID ids) instead of the test
    settings' own mapping (text ids)."""
    with override_settings(MOBILE_SYNC={**watermelon_settings(), "WATERMELON": TABLES}):
        yield
