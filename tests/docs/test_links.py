"""Links between the pages resolve (to a file and a heading), the site's navigation lists
every page, and the README's quick start is the Makefile's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.docs import (
    PAGES,
    ROOT,
    blocks,
    prose,
    slugs,
)


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
