"""The library's management commands, and the options they share (:mod:`.options`)."""

from __future__ import annotations

from .options import add_database_argument, database_alias

__all__ = ["add_database_argument", "database_alias"]
