"""The shape of the library, as docs/architecture.md draws it, kept true by tests.

- no import cycles between the library's modules, counting every import (function-level
  ones too) except those only for type checkers (``if TYPE_CHECKING:``);
- no module over 500 lines, and ``service.py`` (the hooks) under 400;
- no private name (``_x``) imported from another module of the library;
- every module is on the architecture page.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "django_mobile_sync"
DOCS = Path(__file__).resolve().parents[1] / "docs"
PACKAGE = "django_mobile_sync"


def modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join((PACKAGE, *parts))] = path
    return found


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(module: str, path: Path) -> list[tuple[str, list[str]]]:
    """``(imported module, names)`` of every runtime import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: list[tuple[str, list[str]]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name, []) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - child.level + 1]
                    base = ".".join([*anchor, base]) if base else ".".join(anchor)
                found.append((base, [alias.name for alias in child.names]))
            visit(child)

    visit(tree)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    edges: dict[str, set[str]] = {name: set() for name in mods}
    for name, path in mods.items():
        for target, names in imports(name, path):
            for candidate in [f"{target}.{n}" for n in names] + [target]:
                if candidate in mods and candidate != name:
                    edges[name].add(candidate)
                    break
    return edges


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


@pytest.mark.parametrize("module", sorted(modules()))
def test_modules_stay_small(module: str) -> None:
    lines = modules()[module].read_text(encoding="utf-8").count("\n")
    limit = 400 if module.endswith(".service") else 500
    assert lines <= limit, f"{module}: {lines} lines (at most {limit}): split it by concept"


def test_no_private_names_are_imported_across_modules() -> None:
    offenders = []
    for name, path in modules().items():
        for target, names in imports(name, path):
            if target.startswith(PACKAGE):
                offenders += [f"{name}: {target}.{n}" for n in names if n.startswith("_")]
    assert not offenders, offenders


def test_every_module_is_on_the_architecture_page() -> None:
    page = (DOCS / "architecture.md").read_text(encoding="utf-8")
    missing = [
        name
        for name, path in modules().items()
        if path.name != "__init__.py" and f"`{path.relative_to(SRC).as_posix()}`" not in page
    ]
    assert not missing, f"add these modules to docs/architecture.md: {missing}"
