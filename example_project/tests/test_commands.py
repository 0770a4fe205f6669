"""The example's commands, run as a shell runs them: bad arguments end in one line.

Each bad argument gives a non-zero exit, a one-line ``CommandError: ...`` on stderr and no
traceback, against the served example's real database (SQLite, or PostgreSQL with
``DATABASE_URL``: names longer than their columns must be refused before PostgreSQL would
raise a ``DataError``). Variants of the same mistake run in-process (``call_command``),
which is twenty times faster than a new interpreter and raises the same ``CommandError``.
"""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError

TENANT = ["--client", "Acme Facilities", "--bu", "Downtown Tower"]
#: Every command a newcomer runs: the example's and the library's.
COMMANDS = {
    "sync_user": ["carla", *TENANT],
    "seed_demo": [],
    "try_it": [],
    "purge_tombstones": [],
    "purge_idempotency_keys": [],
    "sync_doctor": [],
    "sync_reset": [],
    "purge_watermelon_checkpoints": [],
    "purge_files": [],
}
#: Commands that read no database (tested in test_client_schema.py).
WITHOUT_DATABASE = {"sync_client_schema"}


def assert_one_line_error(done: Any, message: str) -> None:
    assert done.returncode != 0, done
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines() == [f"CommandError: {message}"]
    assert done.stdout == ""


def test_every_command_is_covered() -> None:
    ours = {
        name
        for name, app in get_commands().items()
        if app == "field_ops" or app.split(".")[0] == "django_mobile_sync"  # its optional apps too
    }
    assert set(COMMANDS) | WITHOUT_DATABASE == ours


@pytest.mark.parametrize("command", COMMANDS)
def test_unknown_database_alias(live_example: Any, command: str) -> None:
    done = live_example.command(command, *COMMANDS[command], "--database", "replica")
    assert_one_line_error(done, "Unknown database alias 'replica'; DATABASES has: default.")


LONG = "x" * 151


SHELL = pytest.mark.shell  # run as a subprocess; the others in-process


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["", *TENANT], "The username is empty; give a name.", id="empty-username", marks=SHELL
        ),
        pytest.param(["   ", *TENANT], "The username is empty; give a name.", id="blank-username"),
        pytest.param(
            [LONG, *TENANT],
            f"The username '{'x' * 40}…' is not valid: Ensure this value has at most 150 "
            "characters (it has 151).",
            id="long-username",
            marks=SHELL,
        ),
        pytest.param(
            ["carla smith", *TENANT],
            "The username 'carla smith' is not valid: Enter a valid username. This value may "
            "contain only letters, numbers, and @/./+/-/_ characters.",
            id="username-with-space",
        ),
        pytest.param(
            ["carla", "--client", "", "--bu", "North"],
            "The --client name is empty; give a name.",
            id="empty-client",
            marks=SHELL,
        ),
        pytest.param(
            ["carla", "--client", "x" * 101, "--bu", "North"],
            f"The --client name '{'x' * 40}…' is not valid: Ensure this value has at most 100 "
            "characters (it has 101).",
            id="long-client",
            marks=SHELL,
        ),
        pytest.param(
            ["carla", "--client", "Acme", "--bu", " "],
            "The --bu name is empty; give a name.",
            id="blank-bu",
            marks=SHELL,
        ),
        pytest.param(
            ["carla", "--client", "Acme", "--bu", "y" * 101],
            f"The --bu name '{'y' * 40}…' is not valid: Ensure this value has at most 100 "
            "characters (it has 101).",
            id="long-bu",
            marks=SHELL,
        ),
        pytest.param(
            ["carla", "--client", "Acme\nCorp", "--bu", "North"],
            "The --client name 'Acme\\nCorp' contains control characters.",
            id="client-with-newline",
        ),
    ],
)
def test_sync_user_refuses_bad_names(
    request: Any, live_example: Any, args: list[str], message: str
) -> None:
    if request.node.get_closest_marker("shell"):
        assert_one_line_error(live_example.command("sync_user", *args), message)
    else:
        with pytest.raises(CommandError) as error:
            call_command("sync_user", *args, stdout=StringIO())
        assert str(error.value) == message


def test_sync_user_takes_names_as_long_as_the_columns(live_example: Any) -> None:
    client, bu, username = "c" * 100, "b" * 100, "u" * 150
    done = live_example.command("sync_user", username, "--client", client, "--bu", bu, "--create")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"Client '{client}': new (existing clients: ")
    assert lines[1] == f"Business unit '{bu}': new (existing units of {client}: none)."
    assert len(lines[-1]) == 40  # the token
