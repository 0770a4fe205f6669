"""The documentation stays true to the code: this test fails when docs/ and src/ drift apart.

Conventions the pages in docs/ follow, and this test relies on:

- Every ```python block compiles; every ```json block, and the body of every ```http block,
  parses.
- A ```python block titled ``title="fieldwork/<module>.py"`` is a module of the docs' example
  app. ``fieldwork/models.py`` blocks are compared with ``tests/testapp/models.py`` (every
  model and field they show exists there with the same field class and unique constraints),
  and ``fieldwork.models`` *is* the test app's models module; other ``fieldwork/`` blocks are
  executed as their module (blocks with one title on several pages add up), so declarations
  can name their classes by import path.
- A block titled ``settings.py`` is executed. Its ``MOBILE_SYNC`` keys must be real
  settings, and every ``SyncDomain`` it declares (``"fieldwork.X"`` read as ``"testapp.X"``)
  must pass the system checks and, unless it routes to another database, push and pull.
- Tables list every setting (with its default), ``SyncDomain`` option, system check id,
  item status, error ``code`` and hook that the code has, and nothing the code does not.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import sys
import textwrap
import time
import types
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import rest_framework
from django.db import connection, models
from django.db.models import Max
from django.test import override_settings

import tests.testapp.models as testapp_models
from django_mobile_sync import conf, idempotency, parsers, resolvers, signals
from django_mobile_sync.checks import check_mobile_sync
from django_mobile_sync.domain_checks import domain_problems
from django_mobile_sync.domains import SyncDomain, as_domain
from django_mobile_sync.serializers import (
    ITEM_STATUSES,
    MultiPushRequestSerializer,
    PushRequestSerializer,
)
from django_mobile_sync.service import SyncService
from tests.conftest import PULL_URL, new_id, pull, pull_all, push

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SRC = ROOT / "src" / "django_mobile_sync"
PAGES = sorted(DOCS.glob("*.md"))
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)


@dataclasses.dataclass
class Block:
    page: str
    line: int
    lang: str
    title: str
    body: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def blocks(*pages: Path) -> list[Block]:
    found = []
    for page in pages or PAGES:
        text = page.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            info = m["info"].strip()
            title = re.search(r'title="([^"]+)"', info)
            found.append(
                Block(
                    page.name,
                    text.count("\n", 0, m.start()) + 1,
                    (info.split() or [""])[0],
                    title[1] if title else "",
                    textwrap.dedent(m["body"]),
                )
            )
    return found


def prose(page: Path) -> str:
    """The page without its code blocks."""
    return FENCE.sub("", page.read_text(encoding="utf-8"))


def section(page: Path, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    text = page.read_text(encoding="utf-8")
    level = heading.split()[0]
    start = text.index(f"\n{heading}\n")
    end = re.search(rf"\n#{{1,{len(level)}}} ", text[start + len(heading) + 2 :])
    return text[start : start + len(heading) + 2 + end.start()] if end else text[start:]


def table_column(text: str, column: int = 0) -> list[str]:
    """The cells of one column of the Markdown tables in ``text`` (header rows skipped)."""
    cells = []
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[\s|:-]+\|$", line):
            cells.append([c.strip() for c in line.strip("|").split("|")][column])
    return cells


def python_blocks() -> list[Block]:
    return [b for b in blocks() if b.lang == "python"]


def settle(model: Any) -> None:
    """On PostgreSQL, wait until the pushes so far are below the pull horizon.

    A pull serves a change once every older transaction on the cluster has finished (see
    docs/cursor.md); another test run on the same server may hold one for a moment.
    """
    if connection.vendor != "postgresql":
        return
    newest = model.all_objects.aggregate(seq=Max("change_seq"))["seq"] or 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            if cursor.fetchone()[0] > newest:
                return
        time.sleep(0.05)
    pytest.fail(f"a transaction on the cluster kept the pull horizon below {newest} for 30 s")


# -- code blocks ---------------------------------------------------------------------------


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


# -- the example app against the test app --------------------------------------------------


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


@pytest.fixture
def fieldwork(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The docs' ``fieldwork`` app as importable modules (models: the test app's)."""
    # The samples connect receivers with a dispatch_uid: drop those of an earlier test, or
    # the new ones are ignored while the old ones wait for the garbage collector.
    for signal in (signals.batch_synced, signals.conflict_detected, signals.item_rejected):
        for entry in list(signal.receivers):
            uid = entry[0][0]
            if isinstance(uid, str) and uid.startswith("fieldwork."):
                signal.disconnect(dispatch_uid=uid)
    package = types.ModuleType("fieldwork")
    package.__path__ = []  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fieldwork", package)
    monkeypatch.setitem(sys.modules, "fieldwork.models", testapp_models)
    package.models = testapp_models  # type: ignore[attr-defined]
    for block in python_blocks():
        if not block.title.startswith("fieldwork/") or block.title.endswith("/models.py"):
            continue
        name = block.title.removesuffix(".py").replace("/", ".")
        module = sys.modules.get(name)
        if module is None:
            module = types.ModuleType(name)
            monkeypatch.setitem(sys.modules, name, module)
            setattr(package, name.rpartition(".")[2], module)
        exec(compile(block.body, str(block), "exec"), module.__dict__)
    return package


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
        assert check_mobile_sync() == []


def test_settings_blocks_declare_domains() -> None:
    assert sum(bool(declared(b).get("DOMAINS")) for b in SETTINGS_BLOCKS) >= 4


SAMPLES = {  # model: (a valid new record, a field the server edits, a stale device edit)
    "testapp.Task": ({"title": "From the docs"}, "title", {"notes": "device"}),
    "testapp.Note": ({"text": "From the docs"}, "text", {"text": "device"}),
    # "<task>": the mobile_id of a task of the user's org, made first
    "testapp.Checkitem": ({"label": "From the docs", "task": "<task>"}, "label", {"done": True}),
    "testapp.Visit": ({"note": "From the docs"}, "note", {"note": "device"}),
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
            domain.model_class.all_objects.filter(mobile_id=mid).update(**{server_field: "server"})
            body = push(
                client, [{"mobile_id": mid, "version": 1, **stale_edit}], domain=domain.name
            ).json()
            assert body["errors"] == [], (str(block), body)


# -- reference tables against the code -----------------------------------------------------


def test_every_setting_is_documented_with_its_default() -> None:
    page = (DOCS / "settings.md").read_text(encoding="utf-8")
    documented = re.findall(r"^### `([A-Z_]+)`\n\nDefault: `(.+)`$", page, re.M)
    assert sorted(k for k, _ in documented) == sorted(conf.DEFAULTS)
    for key, default in documented:
        assert eval(default, {"timedelta": timedelta}) == conf.DEFAULTS[key], key


def test_every_domain_option_is_documented() -> None:
    rows = table_column(section(DOCS / "domains.md", "### Options"))
    options = [re.fullmatch(r"`(\w+)`", row)[1] for row in rows[1:]]  # type: ignore[index]
    assert sorted(options) == sorted(f.name for f in dataclasses.fields(SyncDomain))
    required = {
        f.name
        for f in dataclasses.fields(SyncDomain)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    defaults = dict(
        zip(options, table_column(section(DOCS / "domains.md", "### Options"), 1)[1:], strict=True)
    )
    assert {o for o, d in defaults.items() if d == "required"} == required


def test_every_system_check_is_documented() -> None:
    source = "".join(
        (SRC / name).read_text(encoding="utf-8") for name in ("domain_checks.py", "checks.py")
    )
    produced = set(re.findall(r"\b[EW]\d{3}\b", source))
    rows = table_column(section(DOCS / "domains.md", "## System checks"))
    documented = {re.fullmatch(r"`django_mobile_sync\.([EW]\d{3})`", r)[1] for r in rows[1:]}  # type: ignore[index]
    assert documented == produced


def test_every_item_status_is_documented_in_its_list() -> None:
    rows = section(DOCS / "protocol.md", "#### Item statuses")
    documented = dict(re.findall(r"^\| `(\w+)` \| `(\w+)` \|", rows, re.M))
    expected = {
        **dict.fromkeys(ITEM_STATUSES, "synced_items"),
        "conflict": "conflicts",
        "error": "errors",
    }
    assert documented == expected


def test_every_hook_resolver_command_and_signal_is_documented() -> None:
    domains_page = prose(DOCS / "domains.md")
    hooks = [
        name
        for name, value in vars(SyncService).items()
        if callable(value) and not name.startswith("_") and name not in ("push", "pull")
    ]
    for name in hooks:
        assert f"`{name}(" in domains_page, name
    for name in resolvers.RESOLVERS:
        assert f"| `{name}`" in domains_page, name
    for field in dataclasses.fields(resolvers.ConflictContext):
        assert f"| `{field.name}` |" in domains_page, field.name
    operations = prose(DOCS / "operations.md")
    for command in (SRC / "management" / "commands").glob("[!_]*.py"):
        assert f"manage.py {command.stem}" in operations, command.stem
    for name, value in vars(signals).items():
        if isinstance(value, signals.Signal):
            assert f"django_mobile_sync.signals.{name}" in operations, name


# -- error codes -----------------------------------------------------------------------------


def documented_codes() -> dict[str, int]:
    """``{code: status}`` from the errors table of protocol.md."""
    rows = section(DOCS / "protocol.md", "## Errors")
    codes = {}
    for status, cells in re.findall(r"^\| (\d{3}) \| ([^|]+) \|", rows, re.M):
        for code in re.findall(r"`(\w+)`", cells):
            codes[code] = int(status)
    return codes


def src_codes() -> set[str]:
    source = "\n".join(p.read_text(encoding="utf-8") for p in SRC.rglob("*.py"))
    return set(re.findall(r"""(?:\bcode=|default_code = |"code": )["'](\w+)["']""", source))


def test_every_code_the_library_produces_is_documented() -> None:
    assert src_codes() - set(documented_codes()) == set()


def test_every_documented_code_is_produced() -> None:
    drf = "\n".join(
        (Path(rest_framework.__file__).parent / name).read_text(encoding="utf-8")
        for name in ("exceptions.py", "fields.py", "serializers.py")
    )
    for code in documented_codes():
        assert code in src_codes() or re.search(rf"""['"]{code}['"]""", drf), code


def test_documented_statuses_match_the_exceptions() -> None:
    from rest_framework import exceptions

    codes = documented_codes()
    classes = [*vars(exceptions).values(), *vars(parsers).values(), *vars(idempotency).values()]
    checked = 0
    for cls in classes:
        is_api_error = isinstance(cls, type) and issubclass(cls, exceptions.APIException)
        if is_api_error and cls.default_code in codes:
            assert codes[cls.default_code] == cls.status_code, cls
            checked += 1
    assert checked >= 10
    assert codes["reset_required"] == 410 and codes["invalid_cursor"] == 400


# -- the protocol examples have the shapes the code produces ----------------------------------


@pytest.fixture
def real_shapes(client: Any, domain_options: Any) -> dict[str, set[str]]:
    """Key sets of real push and pull answers."""
    mid, gone = new_id(), new_id()
    created = push(client, [{"mobile_id": mid, "title": "x"}, {"mobile_id": gone, "title": "y"}])
    push(client, [{"mobile_id": gone, "version": 1, "deleted": True}])
    from tests.testapp.models import Task

    Task.objects.filter(mobile_id=mid).update(title="server")
    stale = {"mobile_id": mid, "version": 1, "notes": "device"}
    conflict = push(client, [stale, {"mobile_id": new_id(), "title": ""}]).json()
    with domain_options(resolver="merge"):
        resolved = push(client, [stale]).json()["synced_items"][0]
    settle(Task)
    page = pull(client).json()
    tombstone = next(i for i in page["items"] if i["deleted"])
    error = pull(client, cursor="forged").json()
    with domain_options(min_client_schema_version=2):
        too_old = client.get(PULL_URL.format("tasks"), headers={"X-Client-Schema-Version": "1"})
    multi = client.post(
        "/api/sync/sync/", {"domains": {"notes": {"entries": []}}}, format="json"
    ).json()
    multi_page = client.get("/api/sync/changes/", {"domains": "tasks"}).json()
    return {
        "multi_push": set(multi),
        "multi_pull": set(multi_page),
        "domain_lists": set(multi["domains"]["notes"]),
        "multi_envelope": set(MultiPushRequestSerializer().fields),
        "push": set(created.json()),
        "synced": set(created.json()["synced_items"][0]),
        "resolved": set(resolved),
        "conflict": set(conflict["conflicts"][0]),
        "error": set(conflict["errors"][0]),
        "pull": set(page),
        "tombstone": set(tombstone),
        "error_body": set(error) | {"reset_required"} | set(too_old.json()),
        "envelope": set(PushRequestSerializer().fields),
    }


def json_objects(value: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(value, dict):
        found.append(value)
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found += json_objects(item)
    return found


def test_protocol_examples_have_the_real_shapes(real_shapes: dict[str, set[str]]) -> None:
    shapes, codes, seen = real_shapes, documented_codes(), set()
    examples = [b for b in blocks(DOCS / "protocol.md") if b.lang in ("json", "http")]
    for block in examples:
        body = block.body.partition("\n\n")[2] if block.lang == "http" else block.body
        for obj in json_objects(json.loads(body)) if body.strip() else []:
            where = f"{block}: {sorted(obj)}"
            if "synced_items" in obj:
                seen.add("push")
                shape = shapes["push"] if "timestamp" in obj else shapes["domain_lists"]
                assert set(obj) == shape, where
                for item in obj["synced_items"]:
                    key = "resolved" if item["status"] == "resolved" else "synced"
                    assert item["status"] in ITEM_STATUSES and set(item) == shapes[key], where
                for item in obj["conflicts"]:
                    assert item["status"] == "conflict" and set(item) == shapes["conflict"]
                for item in obj["errors"]:
                    keys = set(item) - {"code"}  # a code where the protocol defines one
                    assert item["status"] == "error" and keys == shapes["error"], where
            elif "domains" in obj and "timestamp" in obj:
                seen.add("multi_push")
                assert set(obj) == shapes["multi_push"], where
            elif "domains" in obj:
                seen.add("multi_envelope")
                assert set(obj) <= shapes["multi_envelope"], where
            elif "changes" in obj and "has_more" in obj:
                seen.add("multi_pull")
                assert set(obj) == shapes["multi_pull"], where
            elif "entries" in obj:
                seen.add("envelope")
                assert set(obj) <= shapes["envelope"], where
            elif "has_more" in obj:
                seen.add("pull")
                assert set(obj) == shapes["pull"], where
            elif "code" in obj:
                seen.add("error_body")
                assert set(obj) <= shapes["error_body"] and obj["code"] in codes, where
            if "updated_at" in obj:  # a record as the server sends it (a pull item, server_data)
                assert shapes["tombstone"] <= set(obj), where
                if obj["deleted"]:
                    assert set(obj) == shapes["tombstone"], where
    assert seen == {
        "push",
        "envelope",
        "pull",
        "error_body",
        "multi_push",
        "multi_envelope",
        "multi_pull",
    }


# -- links, navigation, README ---------------------------------------------------------------


def slugs(page: Path) -> set[str]:
    """Heading anchors as Python-Markdown's toc extension makes them."""
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", prose(page), re.M):
        slug = re.sub(r"[^\w\s-]", "", heading.replace("`", "")).strip().lower()
        slug = re.sub(r"[-\s]+", "-", slug)
        candidate, n = slug, 0
        while candidate in found:
            n += 1
            candidate = f"{slug}_{n}"
        found.add(candidate)
    return found


@pytest.mark.parametrize("page", [*PAGES, ROOT / "README.md"], ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    for target in re.findall(r"\]\(([^)\s]+)\)", prose(page)):
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        assert file.is_file(), f"{page.name}: {target}"
        if anchor:
            assert anchor in slugs(file), f"{page.name}: {target}"


def test_mkdocs_nav_lists_every_page() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = re.findall(r"^  - [^:]+: (\S+\.md)$", config, re.M)
    assert sorted(nav) == sorted(p.name for p in PAGES)
    assert re.search(r"^strict: true$", config, re.M)


def test_readme_quick_start_and_changelog() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [
        b.body.strip().splitlines() for b in blocks(ROOT / "README.md") if "make example" in b.body
    ]
    assert commands == [["make example", "make test"]]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^example:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "Python 3.11\u20133.13" in readme and "Django 5.2 LTS and 6.x" in readme
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


# -- the receivers sample observes a real push -------------------------------------------------


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
