"""The code blocks of the documentation are true to the code.

- Every ```python block compiles; every ```json block, and the body of every ```http block,
  parses.
- A ```python block titled ``title="fieldwork/<module>.py"`` is a module of the docs' example
  app. ``fieldwork/models.py`` blocks are compared with ``tests/testapp/models.py`` (every
  model and field they show exists there with the same field class and unique constraints),
  and ``fieldwork.models`` *is* the test app's models module; other ``fieldwork/`` blocks are
  executed as their module (blocks with one title on several pages add up), so declarations
  can name their classes by import path (the ``fieldwork`` fixture, ``tests/docs/conftest.py``).
- A block titled ``settings.py`` is executed. Its ``MOBILE_SYNC`` keys must be real
  settings, and every ``SyncDomain`` it declares (``"fieldwork.X"`` read as ``"testapp.X"``)
  must pass the system checks and, unless it routes to another database, push and pull.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import types
from typing import Any

import pytest
from django.db import models
from django.test import override_settings

import tests.testapp.models as testapp_models
from django_mobile_sync import conf
from django_mobile_sync.checks import check_domains
from django_mobile_sync.checks.domains import domain_problems
from django_mobile_sync.domains import SyncDomain, as_domain
from tests.helpers.api import new_id, pull_all, push
from tests.helpers.docs import (
    DOCS,
    ROOT,
    Block,
    blocks,
    python_blocks,
    settle,
)

README_PYTHON = [b for b in blocks(ROOT / "README.md") if b.lang == "python"]


@pytest.mark.parametrize("block", [*python_blocks(), *README_PYTHON], ids=str)
def test_python_blocks_compile(block: Block) -> None:
    compile(block.body, str(block), "exec")


@pytest.mark.parametrize("block", [b for b in blocks() if b.lang in ("json", "http")], ids=str)
def test_json_blocks_parse(block: Block) -> None:
    body = block.body
    if block.lang == "http":
        body = body.partition("\n\n")[2]
        if not body.strip():
            return
    json.loads(body)


def test_the_docs_have_the_blocks_this_test_checks() -> None:
    titles = {b.title for b in python_blocks()}
    assert {
        "settings.py",
        "fieldwork/models.py",
        "fieldwork/tenancy.py",
        "fieldwork/serializers.py",
        "fieldwork/services.py",
        "fieldwork/resolvers.py",
    } <= titles
    assert len([b for b in blocks(DOCS / "protocol.md") if b.lang == "json"]) >= 7


def doc_models() -> list[tuple[Block, ast.ClassDef]]:
    return [
        (b, node)
        for b in python_blocks()
        if b.title == "fieldwork/models.py"
        for node in ast.parse(b.body).body
        if isinstance(node, ast.ClassDef)
    ]


def unique_sets(node: ast.ClassDef) -> set[frozenset[str]]:
    found = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "UniqueConstraint":
            fields = next(k.value for k in call.keywords if k.arg == "fields")
            found.add(frozenset(ast.literal_eval(fields)))
    return found


@pytest.mark.parametrize(("block", "node"), doc_models(), ids=lambda v: getattr(v, "name", str(v)))
def test_doc_models_exist_in_the_test_app(block: Block, node: ast.ClassDef) -> None:
    model = getattr(testapp_models, node.name, None)
    assert model is not None, f"{block}: the test app has no model {node.name}"
    for statement in node.body:
        if not (isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call)):
            continue
        kind = getattr(statement.value.func, "attr", "")
        if not hasattr(models, kind) or not issubclass(getattr(models, kind), models.Field):
            continue
        name = statement.targets[0].id  # type: ignore[attr-defined]
        field = model._meta.get_field(name)
        assert type(field).__name__ == kind, f"{block}: {node.name}.{name} is a {kind}"
    real = {
        frozenset(c.fields)
        for c in model._meta.constraints
        if isinstance(c, models.UniqueConstraint)
    }
    assert unique_sets(node) == real, f"{block}: unique constraints of {node.name}"


def declared(block: Block) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(block.body, str(block), "exec"), namespace)
    return namespace.get("MOBILE_SYNC") or {}


def as_test_app(domain: Any) -> SyncDomain:
    domain = as_domain(domain)
    assert domain.model.startswith("fieldwork."), domain.model
    return dataclasses.replace(domain, model=domain.model.replace("fieldwork.", "testapp."))


SETTINGS_BLOCKS = [b for b in python_blocks() if b.title == "settings.py"]


@pytest.mark.parametrize("block", SETTINGS_BLOCKS, ids=str)
def test_settings_blocks_are_valid(block: Block, fieldwork: types.ModuleType) -> None:
    mobile_sync = declared(block)
    assert set(mobile_sync) <= set(conf.DEFAULTS), f"{block}: unknown MOBILE_SYNC keys"
    domains = [as_test_app(d) for d in mobile_sync.get("DOMAINS", [])]
    for domain in domains:
        assert domain_problems(domain) == [], f"{block}: {domain.name}"
    with override_settings(MOBILE_SYNC={"DOMAINS": domains}):
        assert check_domains() == []


def test_settings_blocks_declare_domains() -> None:
    assert sum(bool(declared(b).get("DOMAINS")) for b in SETTINGS_BLOCKS) >= 4


#: model: (a valid new record, a field the server edits, a stale device edit)
SAMPLES: dict[str, tuple[dict[str, Any], str, dict[str, Any]]] = {
    "testapp.Task": ({"title": "From the docs"}, "title", {"notes": "device"}),
    "testapp.Note": ({"text": "From the docs"}, "text", {"text": "device"}),
    # "<task>": the mobile_id of a task of the user's org, made first
    "testapp.Checkitem": ({"label": "From the docs", "task": "<task>"}, "label", {"done": True}),
    "testapp.Visit": ({"note": "From the docs"}, "note", {"note": "device"}),
    "testapp.Scan": (
        {
            "task": "<task>",
            "file": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        },
        "title",
        {"title": "device"},
    ),
}


def sample(new: dict[str, Any], client: Any) -> dict[str, Any]:
    """``new`` with ``"<task>"`` replaced by a task the client's user may reference."""
    if "<task>" not in new.values():
        return new
    task = new_id()
    push(client, [{"mobile_id": task, "title": "parent"}])
    return {k: task if v == "<task>" else v for k, v in new.items()}


@pytest.mark.parametrize("block", SETTINGS_BLOCKS, ids=str)
def test_documented_domains_push_and_pull(
    block: Block, fieldwork: types.ModuleType, client: Any, settings: Any
) -> None:
    for domain in map(as_test_app, declared(block).get("DOMAINS", [])):
        if domain.database is not None:
            continue  # routes to another database: checked by test_settings_blocks_are_valid
        new, server_field, stale_edit = SAMPLES[domain.model]
        mid = new_id()
        new = sample(new, client)
        with override_settings(MOBILE_SYNC={**settings.MOBILE_SYNC, "DOMAINS": [domain]}):
            body = push(client, [{"mobile_id": mid, **new}], domain=domain.name).json()
            assert body["synced_items"][0]["status"] == "created", (str(block), body)
            settle(domain.model_class)
            items, _ = pull_all(client, domain=domain.name)
            assert mid in [i["mobile_id"] for i in items]
            model: Any = domain.model_class
            model.all_objects.filter(mobile_id=mid).update(**{server_field: "server"})
            body = push(
                client, [{"mobile_id": mid, "version": 1, **stale_edit}], domain=domain.name
            ).json()
            assert body["errors"] == [], (str(block), body)


def test_documented_receivers_observe_a_push(
    fieldwork: types.ModuleType, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The ``fieldwork/receivers.py`` block of conflicts.md, connected, sees every event."""
    assert hasattr(fieldwork, "receivers")
    caplog.set_level("INFO", logger="fieldwork.sync")
    from tests.testapp.models import Task

    mid, bad = new_id(), new_id()
    push(client, [{"mobile_id": mid, "title": "Base"}])
    Task.objects.filter(mobile_id=mid).update(title="Server")
    push(client, [{"mobile_id": mid, "version": 1, "notes": "x"}, {"mobile_id": bad, "title": ""}])
    logged = [r.getMessage() for r in caplog.records if r.name == "fieldwork.sync"]
    assert logged == [
        f"tasks {mid}: rejected (device device-1, base version 1, server version 2)",
        f"tasks {bad} rejected: title: This field may not be blank.",
        "tasks: 1 conflicts and 1 errors in 2 entries from device-1",
    ]
