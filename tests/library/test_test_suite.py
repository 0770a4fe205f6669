"""The shape of the test suites (the library's and the example project's), kept by tests.

- test modules by concept, none over 600 lines;
- no test module imports another test module, or a private name (``_x``) of anything: what
  several share is in ``helpers/`` (fixtures in ``conftest.py`` files);
- the code, the tests and the example cite the repository's own documentation (``docs/``),
  never an outside document's sections.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.imports import ROOT, imports_of, module_names

SUITES = {"tests": ROOT / "tests", "example": ROOT / "example_project" / "tests"}
#: An outside document's section number, as a citation (built so that this file is none).
OUTSIDE_CITATION = re.compile("SPEC" + r"\s*\u00a7")


def suite_modules() -> dict[str, Path]:
    found = {}
    for suite, root in SUITES.items():
        for name, path in module_names(root, "tests").items():
            found[f"{suite}:{name}"] = path
    return found


def is_test_module(name: str) -> bool:
    return name.rsplit(".", 1)[-1].startswith("test_")


@pytest.mark.parametrize("module", sorted(filter(is_test_module, suite_modules())))
def test_test_modules_stay_small(module: str) -> None:
    lines = suite_modules()[module].read_text(encoding="utf-8").count("\n")
    assert lines <= 600, f"{module}: {lines} lines (at most 600): split it by concept"


def test_no_test_module_imports_another_or_a_private_name() -> None:
    offenders = []
    for key, path in suite_modules().items():
        suite, name = key.split(":")
        for imported in imports_of(name, path):
            where = f"{suite}:{path.relative_to(ROOT)}:{imported.line}"
            reached = [imported.module, *(f"{imported.module}.{n}" for n in imported.names)]
            if any(is_test_module(module) and module.startswith("tests.") for module in reached):
                offenders.append(f"{where} imports a test module ({imported.module})")
            private = [n for n in imported.names if n.startswith("_") and n != "__future__"]
            if private and imported.module != "__future__":
                offenders.append(f"{where} imports private names {private}")
    assert not offenders, "\n".join(offenders)


#: The files a reader of the repository reads: code, docs and the client sources.
CITING_SUFFIXES = {".py", ".md", ".ts", ".mjs", ".js"}


@pytest.mark.parametrize(
    "tree", ["src", "tests", "example_project", "docs", "benchmarks", "clients"]
)
def test_citations_are_of_the_repositorys_documentation(tree: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / tree).rglob("*"))
        if path.suffix in CITING_SUFFIXES and "node_modules" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE_CITATION.search(line)
    ]
    assert not offenders, "cite docs/ instead: " + ", ".join(offenders)
