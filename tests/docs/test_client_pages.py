"""The client pages show their code inline, readable where the README links them (the
repository's web view), and that code is the client package's (and the example app's).

A block titled with a repository path (``clients/src/rxdb/sync.ts``) must be that file,
byte for byte; no page pulls code in with a snippet line (``--8<--``), which a web view shows
as the bare line; every module of the package is shown on a page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.imports import ROOT

#: The pages that show client code: the client guides, the files page (its upload queue) and
#: the live page (its stream).
PAGES = [
    *sorted((ROOT / "docs" / "clients").glob("*.md")),
    ROOT / "docs" / "files.md",
    ROOT / "docs" / "live.md",
]
BLOCK = re.compile(r'^```(\w+) title="(clients/[^"]+)"\n(.*?)^```$', re.S | re.M)
#: The package's modules worth reading (the index files only re-export them).
PACKAGE_SOURCES = sorted(
    path for path in (ROOT / "clients" / "src").rglob("*.ts") if path.name != "index.ts"
)


def titled_blocks() -> list[tuple[Path, str, str]]:
    return [
        (page, title, code) for page in PAGES for _, title, code in BLOCK.findall(page.read_text())
    ]


def test_no_client_page_uses_a_snippet_line() -> None:
    for page in PAGES:
        lines = [line for line in page.read_text().splitlines() if "--8<--" in line]
        assert not lines, f"{page.name} pulls code in with {lines}: show it inline"


@pytest.mark.parametrize(
    ("page", "title", "code"),
    titled_blocks(),
    ids=lambda value: value.name if isinstance(value, Path) else str(value)[:40],
)
def test_a_code_block_is_the_file_it_names(page: Path, title: str, code: str) -> None:
    source = ROOT / title
    assert source.is_file(), f"{page.name} shows {title}, which does not exist"
    assert code == source.read_text(), (
        f"{page.name} shows another {title} than the repository's: copy the file into the page"
    )


def test_every_package_module_is_shown() -> None:
    shown = {title for _, title, _ in titled_blocks()}
    assert PACKAGE_SOURCES, "clients/src has no module"
    missing = [
        str(p.relative_to(ROOT)) for p in PACKAGE_SOURCES if str(p.relative_to(ROOT)) not in shown
    ]
    assert not missing, f"no client page shows {missing}"


def test_the_pages_show_child_creation_and_a_web_set_up() -> None:
    watermelon = (ROOT / "docs" / "clients" / "watermelondb.md").read_text()
    assert "step.workOrderId = order.id" in watermelon
    web = watermelon[watermelon.index("### On the web (LokiJS)") :]
    web_code = web[web.index("```typescript") : web.index("```\n", web.index("```typescript") + 3)]
    assert "LokiJSAdapter" in web_code and "turbo" not in web_code.replace("no turbo", "")
    tables = (
        "activity",
        "work_orders",
        "attendance",
        "helpdesk",
        "journal",
        "checklist",
        "photos",
    )
    for table in tables:
        assert f"`{table}`" in watermelon, table
