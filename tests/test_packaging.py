"""The sdist and the wheel hold the library only, with its templates and ``py.typed``."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_sdist_ships_the_library_and_no_test_tree(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    [sdist] = tmp_path.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    outside = {name.split("/")[0] for name in names if not name.startswith("src")}
    assert outside <= {
        "CHANGELOG.md",
        "LICENSE",
        "MANIFEST.in",
        "PKG-INFO",
        "README.md",
        "pyproject.toml",
        "setup.cfg",
    }, outside
    assert "src/django_mobile_sync/py.typed" in names
    assert any(name.endswith("syncconflict/change_form.html") for name in names)
    assert not any(part in name for name in names for part in ("tests/", "example_project"))
