"""The shape of the library, as docs/architecture.md draws it, kept true by tests.

- the layers: each component (a top-level module or a subpackage) imports only components of
  lower layers or its own (:data:`LAYERS`), type-only imports included (but for the
  :data:`TYPE_ONLY_UPWARD` ones); the core never imports an edge; edges import each other only
  as :data:`EDGE_IMPORTS` allows; an optional app of the library (a subpackage with its own
  ``apps.py``: a client protocol such as ``watermelondb``) imports the core only through its
  public names (``django_mobile_sync.engine``, never ``django_mobile_sync.engine.push``);
- no import cycles between the library's modules, counting every import (function-level
  ones too) except those only for type checkers (``if TYPE_CHECKING:``);
- no module over 500 lines, and ``service.py`` (the hooks) under 400; at most 16 modules at
  the top level (the public surface), the machinery in subpackages;
- no private name (``_x``) imported from another module of the library;
- every module is on the architecture page.
"""

from __future__ import annotations

import re

import pytest

from tests.helpers.imports import (
    PACKAGE,
    ROOT,
    SRC,
    Import,
    imports_of,
    library_modules,
    targets,
)

DOCS = ROOT / "docs"

#: The layers of the core, lowest first: a component imports only its own layer and those
#: below (docs/architecture.md, "The layers").
LAYERS: dict[str, int] = {
    # 1. foundation
    "conf": 1,
    "exceptions": 1,
    "signals": 1,
    # 2. declarations
    "domains": 2,
    "resolvers": 2,
    # 3. what makes a row syncable
    "records": 3,
    # 4. the app's tables (and the records' public names)
    "models": 4,
    # 5. push and pull, through the SyncHooks protocol
    "engine": 5,
    # 6. the record serializer (speaks the engine's item codes)
    "serializers": 6,
    # 7. the hooks
    "service": 7,
    # 8. DRF plumbing
    "api": 8,
    "throttling": 8,
    "authentication": 8,
    # 9. the endpoints
    "views": 9,
}
#: The edges: what Django or an operator calls, each on top of the whole core.
EDGES = {"", "apps", "urls", "admin", "ops", "checks", "management"}
#: The only imports between edges (``*``: every optional app of the library); an optional
#: app imports the others through their package root only.
EDGE_IMPORTS = {
    ("admin", "ops"),  # the analytics page shows the numbers of ops/analytics.py
    ("management", "ops"),  # the commands are thin wrappers
    ("apps", "checks"),  # ready() registers the system checks
    ("*", "checks"),  # an optional app's checks use the library's E014 message
    ("*", "management"),  # its commands take the shared --database option
}
#: Type-only imports that may point up: ``SyncDomain`` annotates its ``service`` option and
#: ``service_class`` with the class they name.
TYPE_ONLY_UPWARD = {("domains", "service")}
#: Optional apps of the library: their own AppConfig, URLs, settings and tables.
OPTIONAL_APPS = sorted(path.parent.name for path in SRC.glob("*/apps.py"))


def component(module: str) -> str:
    """``django_mobile_sync.engine.push`` -> ``engine``; the package itself -> ``""``."""
    return module.split(".")[1] if "." in module else ""


def is_optional_app(name: str) -> bool:
    return name in OPTIONAL_APPS


def library_imports() -> list[tuple[str, Import, str]]:
    """``(importing module, import, imported module)`` of every import within the library."""
    mods = library_modules()
    found = []
    for name, path in mods.items():
        for imported in imports_of(name, path):
            for target in targets(imported, mods):
                if target != name:
                    found.append((name, imported, target))
    return found


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {name: set() for name in library_modules()}
    for name, imported, target in library_imports():
        if not imported.type_only:
            edges[name].add(target)
    return edges


def test_every_component_has_a_place_in_the_layers() -> None:
    placed = set(LAYERS) | EDGES | set(OPTIONAL_APPS)
    unplaced = sorted({component(m) for m in library_modules()} - placed)
    assert not unplaced, f"give these a layer in LAYERS (or make them an edge): {unplaced}"


def test_the_optional_apps_include_the_watermelondb_adapter() -> None:
    assert "watermelondb" in OPTIONAL_APPS
    assert not set(OPTIONAL_APPS) & (set(LAYERS) | EDGES)


def broken_rule(source: str, target: str, imported: Import) -> str | None:
    """Why ``source`` may not import ``target`` (components), or ``None``."""
    if source == target:
        return None
    if source in LAYERS and target in LAYERS:
        if LAYERS[target] <= LAYERS[source]:
            return None
        if imported.type_only and (source, target) in TYPE_ONLY_UPWARD:
            return None
        return f"layer {LAYERS[source]} imports layer {LAYERS[target]} (upward)"
    if source in LAYERS:
        return "the core imports an edge or an optional app"
    if target in LAYERS:
        return None  # an edge or an optional app on top of the core
    if (source, target) in EDGE_IMPORTS:
        return None
    if is_optional_app(source) and ("*", target) in EDGE_IMPORTS:
        return None
    return "an edge imports another edge"


def test_imports_follow_the_layers() -> None:
    offenders = []
    for source, imported, target in library_imports():
        problem = broken_rule(component(source), component(target), imported)
        if problem is not None:
            offenders.append(f"{source}:{imported.line} -> {target}: {problem}")
    assert not offenders, "\n".join(offenders)


def test_the_core_never_imports_an_optional_app() -> None:
    offenders = [
        f"{source}:{imported.line} -> {target}"
        for source, imported, target in library_imports()
        if is_optional_app(component(target)) and not is_optional_app(component(source))
    ]
    assert not offenders, offenders


@pytest.mark.parametrize("app", OPTIONAL_APPS)
def test_an_optional_app_uses_the_core_through_its_public_names(app: str) -> None:
    """``django_mobile_sync.engine`` (the package's ``__init__``) or a top-level module, never
    ``django_mobile_sync.engine.push``: the core may move its machinery around."""
    offenders = []
    for source, imported, target in library_imports():
        if component(source) != app or component(target) == app:
            continue
        if target.count(".") > 1:  # django_mobile_sync.<package>.<module>
            offenders.append(f"{source}:{imported.line} imports {target}")
    assert not offenders, offenders


def test_the_watermelondb_push_does_not_import_its_pull() -> None:
    pushing = f"{PACKAGE}.watermelondb.push"
    reached = {t for s, _i, t in library_imports() if s == pushing}
    assert f"{PACKAGE}.watermelondb.pull" not in reached


def test_no_import_cycles() -> None:
    edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                walk(target)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            walk(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("module", sorted(library_modules()))
def test_modules_stay_small(module: str) -> None:
    lines = library_modules()[module].read_text(encoding="utf-8").count("\n")
    limit = 400 if module.endswith(".service") else 500
    assert lines <= limit, f"{module}: {lines} lines (at most {limit}): split it by concept"


def test_the_top_level_is_the_public_surface() -> None:
    """At most 16 modules at the top (what users import, name in settings or subclass),
    no adapter module among them, and the machinery in subpackages."""
    top = sorted(p.stem for p in SRC.glob("*.py") if p.stem not in ("__init__", "apps"))
    assert len(top) <= 16, top
    assert not [name for name in top if name.startswith("watermelon")], top
    packages = {p.parent.name for p in SRC.glob("*/__init__.py")} - {"migrations"}
    assert {"records", "engine", "api", "watermelondb"} <= packages, packages


def test_no_private_names_are_imported_across_modules() -> None:
    offenders = [
        f"{source}: {imported.module}.{name}"
        for source, imported, _target in library_imports()
        for name in imported.names
        if name.startswith("_") and imported.module != source
    ]
    assert not offenders, offenders


def test_every_module_is_on_the_architecture_page() -> None:
    page = (DOCS / "architecture.md").read_text(encoding="utf-8")
    missing = [
        name
        for name, path in library_modules().items()
        if path.name != "__init__.py" and f"`{path.relative_to(SRC).as_posix()}`" not in page
    ]
    assert not missing, f"add these modules to docs/architecture.md: {missing}"


def test_every_package_is_on_the_architecture_diagram() -> None:
    page = (DOCS / "architecture.md").read_text(encoding="utf-8")
    diagram = page.split("```text", 1)[1].split("```", 1)[0]
    packages = sorted(p.parent.name for p in SRC.glob("*/__init__.py"))
    packages = [p for p in packages if p != "migrations"]
    missing = [p for p in packages if f"{p}/" not in diagram]
    assert not missing, f"draw these packages on the diagram of docs/architecture.md: {missing}"


def diagram_layers() -> dict[int, str]:
    """The rows of each numbered layer of the page's diagram (a layer's row starts ``N.``;
    the rows after it, up to the next numbered one, belong to it)."""
    page = (DOCS / "architecture.md").read_text(encoding="utf-8")
    diagram = page.split("```text", 1)[1].split("```", 1)[0]
    layers: dict[int, str] = {}
    current = None
    for row in diagram.splitlines():
        match = re.match(r"\s*(\d+)\.\s", row)
        if match:
            current = int(match[1])
        if current is not None:
            layers[current] = layers.get(current, "") + row + "\n"
    return layers


def test_the_layers_table_is_the_architecture_pages() -> None:
    """Every component of :data:`LAYERS` is on the page's diagram, in its layer's rows."""
    layers = diagram_layers()
    for name, layer in LAYERS.items():
        assert layer in layers, f"no row for layer {layer} on the diagram"
        rows = layers[layer]
        assert f"{name}/" in rows or f"{name}.py" in rows, f"{name}: not in layer {layer}"
