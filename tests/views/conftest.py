from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.views import access

ASSIGNED = {
    "key": "assignee",
    "user": "pk",
    "unassigned": True,
    "sees_all": "tests.views.access.is_supervisor",
}
BY_SITE = {"key": "site", "user_keys": "tests.views.access.sites_of"}


@pytest.fixture(autouse=True)
def _fresh_access() -> Iterator[None]:
    access.SUPERVISORS.clear()
    access.SITES.clear()
    yield
    access.SUPERVISORS.clear()
    access.SITES.clear()


@pytest.fixture
def assigned(domain_options: Callable[..., Any]) -> Iterator[None]:
    """The visits domain seen by assignee: a worker sees theirs and the unassigned ones."""
    with domain_options("visits", view=ASSIGNED):
        yield
