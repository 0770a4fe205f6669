"""Files from Node against the example served by gunicorn (docs/files.md): the real
``tus-js-client`` (npm, pinned in ``clients/package.json``) resuming an interrupted upload,
and the package's upload queue (``django-mobile-sync-client/files``, installed into the
example app ``clients/app/`` from the packed tarball)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers.node_clients import run_node_tests, tenant_of

pytestmark = [pytest.mark.live, pytest.mark.node]

SCRIPTS = [
    # tus-js-client: 8 MiB in 1 MiB chunks, aborted midway, resumed, verified by digest.
    "files/tus-resume.test.mjs",
    # The package's upload queue (src/files/queue.ts): records first, files after, backoff.
    "files/queue.test.mjs",
]


@pytest.mark.parametrize("script", SCRIPTS)
def test_files_client(clients: Path, node_example: Any, script: str) -> None:
    tenant = tenant_of(script)
    users = {name: f"{name}-{tenant['bu']}" for name in ("alice", "bob")}
    tokens = node_example.tokens(*users.values(), **tenant)
    run_node_tests(node_example, script, {name: tokens[user] for name, user in users.items()})


def test_every_files_script_is_run(clients: Path) -> None:
    found = sorted(str(p.relative_to(clients)) for p in clients.glob("files/*.test.mjs"))
    assert found == sorted(SCRIPTS)
