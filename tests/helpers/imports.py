"""The import statements of Python modules, read with ``ast`` (see ``tests/library/``)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "django_mobile_sync"
PACKAGE = "django_mobile_sync"


@dataclass(frozen=True)
class Import:
    """One imported module (``from x import a, b``: ``x`` with names ``a``, ``b``)."""

    module: str
    names: tuple[str, ...]
    type_only: bool  # inside ``if TYPE_CHECKING:``
    line: int


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Every module under ``root`` (the package ``package``), migrations left out."""
    found = {}
    for path in root.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join((package, *parts))] = path
    return found


def library_modules() -> dict[str, Path]:
    return module_names(SRC, PACKAGE)


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: str, path: Path) -> list[Import]:
    """Every import in ``path`` (the module ``module``), function-level ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: list[Import] = []

    def visit(node: ast.AST, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and is_type_checking(child):
                for inner in child.body:
                    visit_one(inner, True)
                for other in child.orelse:
                    visit_one(other, type_only)
                continue
            visit_one(child, type_only)

    def visit_one(child: ast.AST, type_only: bool) -> None:
        if isinstance(child, ast.Import):
            found.extend(Import(a.name, (), type_only, child.lineno) for a in child.names)
        elif isinstance(child, ast.ImportFrom):
            base = child.module or ""
            if child.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - child.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            names = tuple(alias.name for alias in child.names)
            found.append(Import(base, names, type_only, child.lineno))
        visit(child, type_only)

    visit(tree, False)
    return found


def targets(imported: Import, known: dict[str, Path]) -> list[str]:
    """The modules of ``known`` an import reaches: ``from pkg import mod`` reaches
    ``pkg.mod``; ``from pkg import name`` reaches ``pkg``."""
    reached, attributes = [], not imported.names
    for name in imported.names:
        candidate = f"{imported.module}.{name}"
        if candidate in known:
            reached.append(candidate)
        else:
            attributes = True
    if attributes and imported.module in known:
        reached.append(imported.module)
    return reached
