"""What PyPI shows: project URLs, and a README whose links work away from the repository."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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
