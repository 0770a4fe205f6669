"""Bad arguments to the library's management commands end in one line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

ROOT = Path(__file__).resolve().parents[2]


#: Commands that read no database (no --database option).
WITHOUT_DATABASE = {"sync_client_schema"}
COMMANDS = sorted(
    p.stem
    for p in (ROOT / "src/django_mobile_sync").rglob("management/commands/[!_]*.py")
    if p.stem not in WITHOUT_DATABASE
)


#: The test settings' aliases (PostgreSQL adds a hot standby, "replica").
ALIASES = ", ".join(settings.DATABASES)


def test_every_command_is_covered() -> None:
    found = {
        p.stem for p in (ROOT / "src/django_mobile_sync").rglob("management/commands/[!_]*.py")
    }
    assert found - set(COMMANDS) == WITHOUT_DATABASE
    assert COMMANDS == [
        "purge_files",
        "purge_idempotency_keys",
        "purge_tombstones",
        "purge_watermelon_checkpoints",
        "sync_doctor",
        "sync_reset",
    ]


@pytest.mark.parametrize("command", COMMANDS)
def test_unknown_database_alias_is_a_command_error(command: str) -> None:
    with pytest.raises(CommandError) as error:
        call_command(command, "--database", "nope", stdout=StringIO())
    assert str(error.value) == f"Unknown database alias 'nope'; DATABASES has: {ALIASES}."


def manage(*args: str) -> subprocess.CompletedProcess[str]:
    """``django-admin`` with the test settings, as a shell runs it."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], message: str) -> None:
    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [f"CommandError: {message}"]


@pytest.mark.parametrize("command", COMMANDS)
def test_unknown_database_alias_from_the_shell(command: str) -> None:
    assert_one_line_error(
        manage(command, "--database", "archive"),
        f"Unknown database alias 'archive'; DATABASES has: {ALIASES}.",
    )


def test_unknown_domains_are_refused_before_any_purge() -> None:
    assert_one_line_error(
        manage("purge_tombstones", "tasks", "nope", "gone"),
        "Unknown sync domain 'nope', 'gone'; declared: tasks, notes, checkitems, "
        "attachments, reminders, labels, folders, sheets, visits, routed-notes.",
    )


def test_sync_client_schema_bad_format_from_the_shell() -> None:
    done = manage("sync_client_schema", "--format", "sqlite")
    assert_one_line_error(
        done, "Unknown format 'sqlite'; choose one of: rxdb, typescript, watermelondb."
    )
