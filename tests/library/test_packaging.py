"""Packaging: what PyPI shows (project URLs, a README whose links work away from the
repository), and an sdist that holds the library only, with its templates and ``py.typed``."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


REPOSITORY = "https://github.com/django-mobile-sync/django-mobile-sync"


BLOB = f"{REPOSITORY}/blob/main/"


def in_repository(url: str) -> Path:
    """The file a link to the repository's main branch names (which must exist)."""
    assert url.startswith(BLOB), url
    path = ROOT / url.removeprefix(BLOB).partition("#")[0]
    assert path.is_file(), url
    return path


def test_readme_links_are_absolute_and_name_files_of_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert len(links) >= 10
    for link in links:
        assert re.match(r"^https://", link), f"{link}: relative links break on PyPI"
        if link.startswith(REPOSITORY):
            in_repository(link)
    documented = {in_repository(link).name for link in links if "/docs/" in link}
    assert "index.md" in documented and "tutorial.md" in documented


def test_project_urls() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    urls = project["urls"]
    assert set(urls) == {"Homepage", "Documentation", "Repository", "Issues", "Changelog"}
    assert urls["Homepage"] == urls["Repository"] == REPOSITORY
    assert urls["Issues"] == f"{REPOSITORY}/issues"
    assert in_repository(urls["Documentation"]).name == "index.md"
    assert in_repository(urls["Changelog"]).name == "CHANGELOG.md"


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
