"""Reading the documentation in tests: its pages, code blocks, sections, tables and heading
anchors (see ``tests/docs/``)."""

from __future__ import annotations

import dataclasses
import re
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.models import Max

ROOT = Path(__file__).resolve().parents[2]


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
