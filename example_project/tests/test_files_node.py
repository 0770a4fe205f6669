"""The real ``tus-js-client`` (npm, pinned in ``clients/package.json``) against the example
served by gunicorn: an 8 MiB upload in 1 MiB chunks, aborted midway and resumed, the bytes
verified by digest (docs/files.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers.node_clients import node_project, run_node_tests, tenant_of

pytestmark = [pytest.mark.live, pytest.mark.node]

SCRIPT = "files/tus-resume.test.mjs"


@pytest.fixture(scope="module")
def clients() -> Path:
    return node_project()


def test_tus_js_client_resumes_an_interrupted_upload(clients: Path, node_example: Any) -> None:
    tenant = tenant_of(SCRIPT)
    users = {name: f"{name}-{tenant['bu']}" for name in ("alice", "bob")}
    tokens = node_example.tokens(*users.values(), **tenant)
    run_node_tests(node_example, SCRIPT, {name: tokens[user] for name, user in users.items()})
