"""Schemathesis against the project's own OpenAPI schema (/api/schema/), in process.

The schema is loaded from the running Django application through its WSGI interface, and
every sync operation it describes (push and pull of every domain) gets schema-valid and
schema-violating requests, sent with the real Bearer token of a user in the test database.
Every answer must be no 5xx, have a documented status code, content type and headers, and a
body that matches the documented schema; authentication must be enforced; and a push must
answer each entry exactly once. The run is bounded and seeded, so CI sees the same cases.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient
from schemathesis.generation.meta import TestPhase

from django_mobile_sync.domains import get_domains
from django_mobile_sync.models import IdempotencyRecord
from field_ops import demo

# Throttle cache keys carry client-chosen device ids: they must be valid for any cache.
pytestmark = pytest.mark.filterwarnings("error::django.core.cache.backends.base.CacheKeyWarning")

MAX_EXAMPLES = 20  # per operation, fuzzing phase (the examples and coverage phases add more)

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20250928,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True},
    }
)


def compress_as_declared(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """The app behind a client that gzips its body when it sends ``Content-Encoding: gzip``.

    Schemathesis picks the header's value from the schema but sends the body as is; without
    this nearly every push that declares gzip would stop at the broken-stream 400 (which the
    library's own tests cover) instead of reaching the sync service. The client also asks for
    uncompressed responses: the schema describes bodies, not transfer encodings (gzipped
    responses are tested in test_protocol.py).
    """

    def wrapped(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        environ.pop("HTTP_ACCEPT_ENCODING", None)
        if environ.get("HTTP_CONTENT_ENCODING", "").strip().lower() == "gzip":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            body = gzip.compress(body, mtime=0)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return app(environ, start_response)

    return wrapped


schema = schemathesis.openapi.from_wsgi(
    "/api/schema/", compress_as_declared(get_wsgi_application()), config=CONFIG
)

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.ignored_auth,
]
# Not run: positive_data_acceptance (a cursor is opaque and signed: a schema-valid string is
# still a 400) and negative_data_rejection (by design a push answers an invalid entry with a
# per-entry error inside a 200, and DRF reads an empty query value as an absent one).


def every_entry_answered_once(ctx: Any, response: Any, case: Any) -> None:
    """docs/protocol.md (push, several domains): each entry of a pushed batch appears
    exactly once in the answer (of its domain, for a multi-domain push)."""
    if case.method != "POST" or response.status_code != 200:
        return
    if case.path.endswith("/watermelon/"):
        return  # WatermelonDB's push answers only what it refused
    body = response.json()
    if "domains" in case.body:
        parts = [(case.body["domains"][name], body["domains"][name]) for name in body["domains"]]
    else:
        parts = [(case.body, body)]
    for sent, lists in parts:
        entries = sent["entries"]
        answered = lists["synced_items"] + lists["conflicts"] + lists["errors"]
        assert len(answered) == len(entries), f"{len(entries)} entries, {len(answered)} answers"


@pytest.fixture
def token(db: Any, settings: Any) -> str:
    """The demo user's real API token, with the demo records in its scope and one of them
    deleted per domain, so pulls answer records and tombstones; rates out of the run's way."""
    rates = dict.fromkeys(("user", "device", "pull_user", "pull_device"), "1000000/hour")
    settings.MOBILE_SYNC = {**settings.MOBILE_SYNC, "THROTTLE_RATES": rates}
    key = next(key for user, _, key in demo.seed()["users"] if user == demo.DEMO_USER)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    for name in get_domains():
        items = api.get(f"/api/v1/sync/{name}/changes/").json()["items"]
        if items:
            gone = {"mobile_id": items[0]["mobile_id"], "version": items[0]["version"]}
            answer = api.post(
                f"/api/v1/sync/{name}/sync/", {"entries": [{**gone, "deleted": True}]}, "json"
            )
            assert answer.json()["synced_items"][0]["status"] == "deleted", answer.content
    return key


@pytest.fixture(autouse=True)
def _keep_test_connection() -> Iterator[None]:
    """Requests go straight to the WSGI handler, not through Django's test client, so do
    what that client does: keep ``close_old_connections`` from closing the test's database
    connection (and with it the test's transaction) at the start and end of each request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@hypothesis_settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_sync_api_conforms_to_its_schema(case: schemathesis.Case, token: str) -> None:
    if case.meta is not None and case.meta.phase.name == TestPhase.COVERAGE:
        # The coverage phase sends one Idempotency-Key with every body: after the first
        # push, each would stop at the 422 for a reused key instead of reaching the sync
        # service (replays and that 422 are tested in the library's test_idempotency.py).
        IdempotencyRecord.objects.all().delete()
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"},
        checks=CHECKS,
        additional_checks=[every_entry_answered_once],
    )
    # The token is real: a 401 or 403 here would mean the run tested nothing but the door.
    assert response.status_code not in (401, 403), response.text
