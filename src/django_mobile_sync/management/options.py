"""Command-line options the library's management commands share."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError, CommandParser


def add_database_argument(parser: CommandParser, help: str = "Database alias to use.") -> None:
    """Add ``--database ALIAS`` (default ``default``); check it with :func:`database_alias`."""
    parser.add_argument("--database", default="default", help=help)


def database_alias(alias: str) -> str:
    """``alias`` when ``settings.DATABASES`` has it.

    Raises:
        CommandError: the alias is unknown; the message lists the aliases there are, so the
            command ends with one line instead of a ``ConnectionDoesNotExist`` traceback.
    """
    if alias not in settings.DATABASES:
        known = ", ".join(sorted(settings.DATABASES)) or "none"
        raise CommandError(f"Unknown database alias {alias!r}; DATABASES has: {known}.")
    return alias
