"""The concurrency and convergence tests again, through PgBouncer in transaction pooling.

The suite starts PgBouncer (``tests/helpers/pgservers.py``) in front of the test cluster with
``pool_mode = transaction``, and points the ``default`` and ``other`` aliases at it: every
connection the tests, their threads and the library open goes through it, so consecutive
transactions of one Django connection land on different server connections. The library
keeps no session state, so pushes, the cursor and the horizon stay correct
(docs/cursor.md, "Through PgBouncer"; docs/scaling.md, "PgBouncer").
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection

from tests.helpers import races
from tests.helpers.pgservers import Bouncer
from tests.testapp.models import Org

pytestmark = [pytest.mark.postgres, pytest.mark.replica]


def test_connections_go_through_pgbouncer_in_transaction_mode(bouncer: Bouncer) -> None:
    assert int(connection.settings_dict["PORT"]) == bouncer.port
    config = {row["key"]: row["value"] for row in bouncer.admin("SHOW CONFIG")}
    assert config["pool_mode"] == "transaction"
    Org.objects.create(name="through PgBouncer")
    clients = bouncer.admin("SHOW CLIENTS")
    assert connection.settings_dict["NAME"] in {c["database"] for c in clients}


def test_no_change_is_missed_through_pgbouncer(
    bouncer: Bouncer, org: Org, user: User, tasks_domain: Any
) -> None:
    races.no_change_is_missed(org, user, tasks_domain, None, None)


@pytest.mark.parametrize("via", ["service", "http"])
def test_one_winner_among_ten_through_pgbouncer(
    bouncer: Bouncer, via: str, org: Org, user: User, tasks_domain: Any
) -> None:
    races.one_winner_among_ten(via, org, user, tasks_domain)


def test_readers_converge_through_pgbouncer(
    bouncer: Bouncer, org: Org, user: User, tasks_domain: Any
) -> None:
    races.readers_converge(org, user, tasks_domain)


def test_concurrent_creates_through_pgbouncer(
    bouncer: Bouncer, org: Org, user: User, tasks_domain: Any
) -> None:
    races.one_create_wins("http", org, user, tasks_domain)


@pytest.mark.parametrize(
    ("where", "delayed"), [("other", False), ("default", True)], ids=["other", "same"]
)
def test_the_per_database_horizon_through_pgbouncer(
    bouncer: Bouncer, where: str, delayed: bool, org: Org, user: User, tasks_domain: Any
) -> None:
    races.long_transaction_delays_pulls(org, user, tasks_domain, where, "database", delayed)


def test_two_databases_under_concurrent_load_through_pgbouncer(bouncer: Bouncer) -> None:
    races.tenants_on_two_databases_never_cross()
