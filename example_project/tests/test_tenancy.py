"""The example's tenancy (field_ops/tenancy.py): the scope of a request is read once."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.helpers.devices import PREFIX, Device


def scope_reads(queries: CaptureQueriesContext) -> int:
    """The reads of ``user_scope``: the profile with its client and business unit."""
    return sum(
        '"field_ops_userprofile"' in q["sql"] and '"field_ops_client"' in q["sql"]
        for q in queries.captured_queries
    )


def test_a_request_over_every_domain_reads_the_users_scope_once(alice: Device) -> None:
    """Every domain's ``scope`` is ``user_scope``; the library runs it once per request,
    however many domains the request covers (the WatermelonDB pull covers them all)."""
    with CaptureQueriesContext(connection) as queries:
        response = alice.api.get(
            f"{PREFIX}watermelon/", {"last_pulled_at": "null", "schema_version": "2"}
        )
    assert response.status_code == 200, response.content
    assert scope_reads(queries) == 1

    with CaptureQueriesContext(connection) as queries:
        response = alice.pull("activity")
    assert response.status_code == 200, response.content
    assert scope_reads(queries) == 1
