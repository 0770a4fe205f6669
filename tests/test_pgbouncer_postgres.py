"""The concurrency and convergence tests again, through PgBouncer in transaction pooling.

The suite starts PgBouncer (``tests/pgservers.py``) in front of the test cluster with
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

from django_mobile_sync.domains import get_domain
from tests import test_concurrency_postgres as concurrency
from tests import test_databases as databases
from tests.pgservers import Bouncer
from tests.testapp.models import Org

pytestmark = [pytest.mark.postgres, pytest.mark.replica]


@pytest.fixture
def tasks_domain() -> Any:
    return get_domain("tasks")


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
    concurrency.no_change_is_missed(org, user, tasks_domain, None, None)


@pytest.mark.parametrize("via", ["service", "http"])
def test_one_winner_among_ten_through_pgbouncer(
    bouncer: Bouncer, via: str, org: Org, user: User, tasks_domain: Any
) -> None:
    concurrency.test_ten_concurrent_pushes_at_one_base_version_have_exactly_one_winner(
        via, org, user, tasks_domain
    )


def test_readers_converge_through_pgbouncer(
    bouncer: Bouncer, org: Org, user: User, tasks_domain: Any
) -> None:
    concurrency.test_readers_racing_with_updates_end_with_the_latest_version_of_every_record(
        org, user, tasks_domain
    )


def test_concurrent_creates_through_pgbouncer(
    bouncer: Bouncer, org: Org, user: User, tasks_domain: Any
) -> None:
    concurrency.test_concurrent_creates_of_one_mobile_id_make_one_record_and_no_500(
        "http", org, user, tasks_domain
    )


@pytest.mark.parametrize(
    ("where", "delayed"), [("other", False), ("default", True)], ids=["other", "same"]
)
def test_the_per_database_horizon_through_pgbouncer(
    bouncer: Bouncer, where: str, delayed: bool, org: Org, user: User, tasks_domain: Any
) -> None:
    concurrency.test_a_long_writing_transaction_delays_pulls_of_its_own_database_only(
        org, user, tasks_domain, where, "database", delayed
    )


def test_two_databases_under_concurrent_load_through_pgbouncer(bouncer: Bouncer) -> None:
    databases.test_tenants_on_two_databases_under_concurrent_load_never_cross()
