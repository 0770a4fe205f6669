"""The documentation site builds with ``mkdocs build --strict`` (broken links, missing pages
and bad anchors fail the build)."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    if find_spec("mkdocs") is None or find_spec("material") is None:
        pytest.fail("mkdocs-material is not installed: pip install -e '.[docs]' (tox does).")
    # tox runs the suite with -W error::DeprecationWarning; that is for our code, not mkdocs.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    env["NO_MKDOCS_2_WARNING"] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "index.html").is_file()
    for page in ROOT.glob("docs/*.md"):
        assert (tmp_path / page.stem / "index.html").is_file() or page.stem == "index", page.name
