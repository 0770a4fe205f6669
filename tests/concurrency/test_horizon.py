"""The cost of the transaction-id horizon on PostgreSQL, and where it stops: a long writing
transaction delays pulls of its own database only (docs/cursor.md)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from tests.helpers import races
from tests.testapp.models import Org

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize(
    ("where", "horizon", "delayed"),
    [
        ("other", "database", False),
        ("default", "database", True),
        ("other", "cluster", True),
    ],
    ids=["other-database", "this-database", "other-database-cluster-horizon"],
)
def test_a_long_writing_transaction_delays_pulls_of_its_own_database_only(
    org: Org, user: User, tasks_domain: Any, where: str, horizon: str, delayed: bool
) -> None:
    races.long_transaction_delays_pulls(org, user, tasks_domain, where, horizon, delayed)
