"""No missed change on PostgreSQL: a writer whose transaction stays open commits after
writers that started later, while a device pages through the feed.

A naive cursor on ``updated_at``, on ``id`` or on the change sequence without the horizon
misses that writer's rows in the same run (the control that proves the run is adversarial);
the library does not, pulling from the primary while a transaction stays open in another
database of the cluster, or from a hot standby the suite starts
(``tests/helpers/pgservers.py``). The scenario is ``tests/helpers/races.py``'s
``no_change_is_missed``.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import override_settings

from tests.helpers import races
from tests.helpers.concurrency import (
    HeldOpen,
)
from tests.testapp.models import Org

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize(
    "pulls_from", ["primary", pytest.param("replica", marks=pytest.mark.replica)]
)
def test_no_change_is_missed_while_a_slow_transaction_commits_after_later_ones(
    org: Org, user: User, tasks_domain: Any, pulls_from: str, request: Any
) -> None:
    """Pulls read the primary while a transaction is held open in another database of the
    cluster from start to end (it must delay nothing: the per-database horizon), or read a
    streaming replica of the primary (a lagging standby only delays: docs/cursor.md, "Pulls
    from a hot standby"), which the device must end up agreeing with exactly."""
    standby = None
    if pulls_from == "replica":
        standby = request.getfixturevalue("standby")
        alias = request.getfixturevalue("replica")
        routed = {**settings.MOBILE_SYNC, "PULL_DATABASES": {"default": alias}}
        with override_settings(MOBILE_SYNC=routed), nullcontext() as held:
            races.no_change_is_missed(org, user, tasks_domain, held, standby)
    else:
        with HeldOpen("other") as held:
            races.no_change_is_missed(org, user, tasks_domain, held, None)
