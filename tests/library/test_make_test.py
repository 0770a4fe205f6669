"""``make test`` on a machine with the Pythons a user has (docs: README, "Running the tests").

The Makefile picks tox environments by the interpreters of the matrix (3.11, 3.12, 3.13) it
finds on ``PATH``: those installed run their environments; without 3.12 (which runs the tests
that start servers) the whole suite runs on one installed Python (tox.ini, ``one-*``); CI
(``REQUIRE_ALL_PYTHONS=1``, set by ``.ci/run``) always asks for the whole matrix, so a
missing interpreter fails there. ``make -n test`` prints the recipe with the environments
expanded, run here with a ``PATH`` that holds only stand-in interpreters (scripts that answer
like a working Python) and a ``HOME`` without pyenv.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.imports import ROOT

MAKE = shutil.which("make")
FULL = "py311-dj52-sqlite,py312-dj6-sqlite,py313-dj6-sqlite,py311-dj52-postgres,py312-dj6-postgres"


def planned(tmp_path: Path, pythons: list[str], **env: str) -> tuple[str, str]:
    """The tox environments ``make -n test`` plans (with PostgreSQL reachable), and the
    ``ONE_PYTHON`` it passes (or ``""``)."""
    assert MAKE is not None, "make is needed to run make test"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for version in pythons:
        script = bin_dir / f"python{version}"
        script.write_text("#!/bin/sh\nexit 0\n")
        script.chmod(0o755)
    done = subprocess.run(
        [MAKE, "-n", "test"],
        cwd=ROOT,
        env={"PATH": str(bin_dir), "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    envs = re.search(r'envs="([^"]*),lint"; backends="SQLite and PostgreSQL"', done.stdout)
    assert envs, done.stdout
    one = re.search(r"ONE_PYTHON=(\S+) ", done.stdout)
    return envs[1], one[1] if one else ""


@pytest.mark.parametrize(
    ("pythons", "envs", "one"),
    [
        (["3.11", "3.12", "3.13"], FULL, ""),
        (["3.12"], "py312-dj6-sqlite,py312-dj6-postgres", ""),
        (["3.12", "3.13"], "py312-dj6-sqlite,py313-dj6-sqlite,py312-dj6-postgres", ""),
        (["3.11"], "one-dj52-sqlite,one-dj52-postgres", "python3.11"),
        (["3.13"], "one-dj6-sqlite,one-dj6-postgres", "python3.13"),
        (["3.11", "3.13"], "one-dj6-sqlite,py311-dj52-sqlite,one-dj6-postgres", "python3.13"),
    ],
    ids=["all", "only-3.12", "3.12-and-3.13", "only-3.11", "only-3.13", "no-3.12"],
)
def test_make_test_runs_the_pythons_a_machine_has(
    tmp_path: Path, pythons: list[str], envs: str, one: str
) -> None:
    assert planned(tmp_path, pythons) == (envs, one)


def test_ci_requires_every_python(tmp_path: Path) -> None:
    """``.ci/run`` sets REQUIRE_ALL_PYTHONS=1: the whole matrix, installed or not."""
    assert planned(tmp_path, ["3.12"], REQUIRE_ALL_PYTHONS="1") == (FULL, "")
    assert "REQUIRE_ALL_PYTHONS=1" in (ROOT / ".ci" / "run").read_text()


def test_the_one_python_environments_run_the_whole_suite() -> None:
    """tox.ini's one-* environments: every test, servers included, on ``ONE_PYTHON``."""
    tox = ROOT / ".venv" / "bin" / "tox"
    if not tox.exists():
        tox_path = shutil.which("tox")
        assert tox_path, "tox is needed (make venv installs it)"
        tox = Path(tox_path)
    env = {**os.environ, "ONE_PYTHON": "python3.11"}
    done = subprocess.run(
        [
            str(tox),
            "config",
            "-e",
            "one-dj52-sqlite,one-dj52-postgres",
            "-k",
            "commands",
            "base_python",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    sqlite, postgres = done.stdout.split("[testenv:one-dj52-postgres]")
    assert (
        "pytest -m 'not postgres'" in sqlite
        and "pytest example_project -p no:cacheprovider\n" in sqlite
    )
    assert (
        "not live" not in sqlite and "not live" not in postgres and "not replica" not in postgres
    )
    assert "base_python = python3.11" in sqlite and "base_python = python3.11" in postgres
