"""The client package ``clients/`` and the example app that uses it, with the real packages.

:func:`node_project` installs the package's dependencies (``npm ci``, once per change of its
lockfile: the pinned WatermelonDB, RxDB and TypeScript), builds and packs it (``npm pack``),
installs the tarball into the example app ``clients/app/`` (a fresh ``node_modules`` each time
the tarball changes: what ships is what is tested), writes the example's generated client
schemas there (``manage.py sync_client_schema``) and compiles the app's TypeScript against the
installed package's type declarations. :func:`run_node_tests` runs one of the app's
``node --test`` scripts against a :class:`~tests.helpers.live.LiveExample` and returns the TAP
report once every test in it passed.
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
#: The example app: its scripts resolve the client libraries from ``clients/node_modules``
#: and the package from its own ``node_modules`` (the installed tarball).
APP = CLIENTS / "app"
MIN_NODE = 20  # rxdb 17 declares node >= 20
PREFIX = "/api/v1/sync/"
#: The app's folders of TypeScript (app/tsconfig.json): rebuilt when they change.
APP_TYPESCRIPT = ("rxdb", "watermelon")
#: ``manage.py sync_client_schema`` formats and their files in ``app/generated/``.
SCHEMA_FORMATS = {
    "watermelondb": (["--schema-version", "3"], "watermelondb.json"),
    "rxdb": ([], "rxdb.json"),
    "typescript": ([], "records.ts"),
}


def _digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(CLIENTS)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _run(command: list[str], timeout: float, cwd: Path = CLIENTS) -> str:
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed in {cwd}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


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
        tarball = pack(npm)
        install(npm, tarball)
        generated = generate_schemas()
        sources = [APP / "tsconfig.json", tarball, *generated]
        for folder in APP_TYPESCRIPT:
            sources += (APP / folder).glob("*.ts")
        built = _digest(*sources)
        build_stamp = APP / "build" / ".built-from"
        if not build_stamp.exists() or build_stamp.read_text() != built:
            _run([npm, "run", "--silent", "build"], timeout=300, cwd=APP)
            build_stamp.write_text(built)
    return APP


def pack(npm: str) -> Path:
    """The package built (``tsc``) and packed (``npm pack``): its tarball in ``clients/``."""
    sources = [CLIENTS / "tsconfig.json", CLIENTS / "package.json", CLIENTS / "README.md"]
    sources += (CLIENTS / "src").rglob("*.ts")
    packed = _digest(*sources)
    stamp = CLIENTS / "dist" / ".packed-from"
    name = json.loads((CLIENTS / "package.json").read_text())
    tarball = CLIENTS / f"{name['name']}-{name['version']}.tgz"
    if not tarball.exists() or not stamp.exists() or stamp.read_text() != packed:
        shutil.rmtree(CLIENTS / "dist", ignore_errors=True)
        printed = _run([npm, "pack", "--silent"], timeout=300)  # prepack runs the build
        assert printed.strip().splitlines()[-1] == tarball.name, printed
        stamp.write_text(packed)
    return tarball


def install(npm: str, tarball: Path) -> None:
    """The tarball in a fresh ``app/node_modules`` (none of the optional peers: the app
    resolves the client libraries from ``clients/node_modules``)."""
    installed = _digest(tarball)
    stamp = APP / "node_modules" / ".installed-from"
    if stamp.exists() and stamp.read_text() == installed:
        return
    shutil.rmtree(APP / "node_modules", ignore_errors=True)
    _run(
        [
            npm,
            "install",
            "--no-save",
            "--no-package-lock",
            "--no-audit",
            "--no-fund",
            str(tarball),
        ],
        timeout=300,
        cwd=APP,
    )
    stamp.write_text(installed)


def generate_schemas() -> list[Path]:
    """The example's client schemas, as ``manage.py sync_client_schema`` prints them."""
    written = []
    (APP / "generated").mkdir(exist_ok=True)
    for name, (options, filename) in SCHEMA_FORMATS.items():
        command = [sys.executable, "manage.py", "sync_client_schema", "--format", name, *options]
        printed = _run(command, timeout=120, cwd=PROJECT)
        path = APP / "generated" / filename
        if not path.exists() or path.read_text() != printed:
            path.write_text(printed)
        written.append(path)
    return written


def run_node_tests(server: Any, script: str, tokens: dict[str, str], timeout: float = 600) -> str:
    """Run ``clients/<script>`` against ``server``; its TAP report, once all passed.

    ``tokens`` maps the names the script uses (``alice``, ``bob``) to API tokens.
    """
    path = APP / script
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
        cwd=APP,
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
