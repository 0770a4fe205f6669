"""The real client packages, headless in Node, sync with the example served by gunicorn.

The example app (``clients/app/``) runs the packed client package (``npm pack`` in
``clients/``, installed into the app) with the schemas the server generates. Each script runs
in its own tenant, with two device users (``alice``
and ``bob``), against one server (``node_example``). tox runs these once per database
backend (marker ``live``); see ``clients/app/README.md`` to run one script by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers.node_clients import run_node_tests, tenant_of

# `live`: they start the example under gunicorn, like the other tests that run once per
# database backend; `node`: they need Node.js (make test deselects them without it).
pytestmark = [pytest.mark.live, pytest.mark.node]

RXDB = [
    # Two collections, work-orders and helpdesk, both ways between two devices.
    "test/rxdb-replication.test.mjs",
    # An edit made after a create and before the next pull is kept (with a control).
    "test/rxdb-create-then-edit.test.mjs",
    # A stale push answered `conflict`, merged by the documented conflict handler.
    "test/rxdb-conflict.test.mjs",
    # A 410 after a tombstone purge: the device resyncs and keeps its offline changes.
    "test/rxdb-reset.test.mjs",
    # Live mode: pull.stream$ fed by the live stream; another device's change within 3 s.
    "test/rxdb-live.test.mjs",
]


WATERMELON = [
    # Two devices: creates, updates and deletes in three tables, checklist -> work_orders,
    # WatermelonDB's default 16-character ids.
    "watermelon/two-devices.test.mjs",
    # A push refused whole with 409 after a concurrent server edit, then pull and retry.
    "watermelon/conflict-409.test.mjs",
    # An app update from schema 2 to 3: the migration sync fills the new table and columns.
    "watermelon/migration.test.mjs",
    # A first sync of 10,000 records; the raw body obeys the turbo loader's rules.
    "watermelon/first-sync.test.mjs",
    # A schema below the minimum gets 426 (WatermelonDB, native endpoint, RxDB recipe).
    "watermelon/schema-minimum.test.mjs",
    # The pullChanges and pushChanges of WatermelonDB's own docs (the changes object as the
    # body, as text/plain, no X-Device-Id): two devices, three tables, both ways.
    "watermelon/documented-sync.test.mjs",
    # Views (docs/views.md): a work order reassigned away leaves the old assignee's database
    # at synchronize(), its steps with it.
    "watermelon/reassign.test.mjs",
    # Live streams: synchronize() on a poke, debounced and jittered (the package's live module).
    "watermelon/live-sync-on-poke.test.mjs",
]


@pytest.mark.parametrize("script", RXDB + WATERMELON)
def test_real_client(clients: Path, node_example: Any, script: str) -> None:
    tenant = tenant_of(script)
    users = {name: f"{name}-{tenant['bu']}" for name in ("alice", "bob")}
    tokens = node_example.tokens(*users.values(), **tenant)
    run_node_tests(node_example, script, {name: tokens[user] for name, user in users.items()})


def test_every_client_script_is_run(clients: Path) -> None:
    found = [*(clients / "test").glob("rxdb-*.test.mjs"), *clients.glob("watermelon/*.test.mjs")]
    assert sorted(RXDB + WATERMELON) == sorted(str(path.relative_to(clients)) for path in found)


def test_the_package_tarball_holds_javascript_and_type_declarations(clients: Path) -> None:
    """``npm pack`` in ``clients/``: compiled modules with their ``.d.ts``, a name, a version
    and a README; the app runs exactly that tarball, installed."""
    import json
    import tarfile

    package = json.loads((clients.parent / "package.json").read_text())
    assert package["name"] == "django-mobile-sync-client" and package["version"]
    tarball = clients.parent / f"{package['name']}-{package['version']}.tgz"
    with tarfile.open(tarball) as packed:
        names = set(packed.getnames())
    modules = [
        "index",
        *(f"{m}/{f}" for m in ("rxdb", "watermelondb", "files") for f in ("index",)),
    ]
    modules += ["rxdb/sync", "watermelondb/sync", "files/queue"]
    for module in modules:
        assert {f"package/dist/{module}.js", f"package/dist/{module}.d.ts"} <= names, module
    assert {"package/package.json", "package/README.md"} <= names
    assert not [name for name in names if "/app/" in name or "node_modules" in name]
    installed = clients / "node_modules" / package["name"]
    assert json.loads((installed / "package.json").read_text())["version"] == package["version"]
    assert (installed / "dist" / "watermelondb" / "sync.d.ts").is_file()
    # The app's scripts import the package by name, never the sources or a relative build.
    for script in [*clients.glob("test/*.mjs"), *clients.glob("watermelon/*.mjs")]:
        text = script.read_text()
        assert "../src/" not in text and "clients/src" not in text, script
