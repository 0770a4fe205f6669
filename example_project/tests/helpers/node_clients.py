"""The Node test project in ``clients/``: the real WatermelonDB and RxDB packages.

:func:`node_project` installs it (``npm ci``, once per change of its lockfile) and compiles
its TypeScript; :func:`run_node_tests` runs one of its ``node --test`` scripts against a
:class:`~tests.helpers.live.LiveExample` and returns the TAP report once every test in it passed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.live import PROJECT

CLIENTS = PROJECT.parent / "clients"
MIN_NODE = 20  # rxdb 17 declares node >= 20
PREFIX = "/api/v1/sync/"
# The folders of TypeScript that tsconfig.json compiles: the build is redone when they change.
TYPESCRIPT = ("rxdb", "watermelon", "files")


def _digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(CLIENTS)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _run(command: list[str], timeout: float) -> None:
    done = subprocess.run(
        command, cwd=CLIENTS, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed in {CLIENTS}:\n{done.stdout}\n{done.stderr}")


@contextmanager
def _locked() -> Iterator[None]:
    """One installer at a time (tox environments may run in parallel)."""
    with (CLIENTS / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def node_project() -> Path:
    """``clients/`` installed and built; fails (never skips) without node 20+ and npm."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail(
            "The tests marked `node` run the real client packages and need Node.js 20+ and "
            "npm (apt-get install nodejs npm); deselect them with -m 'not node'."
        )
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    major = int(version.stdout.strip().lstrip("v").split(".")[0])
    if major < MIN_NODE:
        pytest.fail(f"node {version.stdout.strip()} is too old: the clients need {MIN_NODE}+.")
    with _locked():
        lock = _digest(CLIENTS / "package.json", CLIENTS / "package-lock.json")
        stamp = CLIENTS / "node_modules" / ".installed-from"
        if not stamp.exists() or stamp.read_text() != lock:
            _run([npm, "ci", "--no-audit", "--no-fund"], timeout=600)
            stamp.write_text(lock)
        sources = [CLIENTS / "tsconfig.json"]
        for recipe in TYPESCRIPT:
            sources += (CLIENTS / recipe).glob("*.ts")
        built = _digest(*sources) + lock
        build_stamp = CLIENTS / "build" / ".built-from"
        if not build_stamp.exists() or build_stamp.read_text() != built:
            _run([npm, "run", "--silent", "build"], timeout=300)
            build_stamp.write_text(built)
    return CLIENTS


def run_node_tests(server: Any, script: str, tokens: dict[str, str], timeout: float = 600) -> str:
    """Run ``clients/<script>`` against ``server``; its TAP report, once all passed.

    ``tokens`` maps the names the script uses (``alice``, ``bob``) to API tokens.
    """
    path = CLIENTS / script
    assert path.is_file(), f"{path} does not exist"
    env = {
        **server.env,
        "SYNC_URL": server.url,
        "SYNC_PREFIX": PREFIX,
        "SYNC_TOKENS": json.dumps(tokens),
        "SYNC_PYTHON": sys.executable,
        "SYNC_PROJECT": str(PROJECT),
    }
    done = subprocess.run(
        ["node", "--test", "--test-reporter=tap", script],
        cwd=CLIENTS,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    report = done.stdout + done.stderr
    counts = {key: int(value) for key, value in re.findall(r"^# (\w+) (\d+)$", done.stdout, re.M)}
    assert done.returncode == 0, f"node --test {script} failed:\n{report}"
    assert counts.get("tests", 0) > 0, f"node --test {script} ran no test:\n{report}"
    assert counts.get("pass") == counts["tests"], f"not every test passed:\n{report}"
    return report


def tenant_of(script: str) -> dict[str, str]:
    """A tenant of its own for each script, so that scripts never see each other's data."""
    return {"client": "Node clients", "bu": Path(script).name.split(".")[0]}
