"""Who sees what in the view tests: supervisors and site memberships, changed by the tests
between pulls (a change of a user's access, docs/views.md)."""

from __future__ import annotations

from typing import Any

#: The visits seen by site: a user sees the visits of their sites.
BY_SITE = {"key": "site", "user_keys": "tests.views.access.sites_of"}
#: Primary keys of the users who see every record.
SUPERVISORS: set[int] = set()
#: A user's sites, by user primary key.
SITES: dict[int, set[int]] = {}
#: The users whose records a user covers besides their own (a stand-in), by primary key.
COVERS: dict[int, set[int]] = {}


def is_supervisor(user: Any) -> bool:
    return user.pk in SUPERVISORS


def sites_of(user: Any) -> set[int]:
    return SITES.get(user.pk, set())


def covered_by(user: Any) -> set[int]:
    return COVERS.get(user.pk, set())
