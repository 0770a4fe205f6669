from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from django_mobile_sync.engine.epoch import reset_database
from django_mobile_sync.management.options import add_database_argument, database_alias


class Command(BaseCommand):
    help = (
        "Start a new epoch of a database's change clock, after a restore or a failover that "
        "may have lost transactions: rows stamped above the clock are re-stamped so pulls "
        "serve them, and every cursor issued before answers 410 (devices resync from "
        "scratch and keep their unpushed changes)."
    )

    def add_arguments(self, parser: Any) -> None:
        add_database_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        using = database_alias(options["database"])
        report = reset_database(using)
        for label, count in sorted(report.restamped.items()):
            self.stdout.write(f"{label}: re-stamped {count} row(s) stamped above the clock")
        if report.purges:
            self.stdout.write(f"moved {report.purges} tombstone purge record(s) down the clock")
        self.stdout.write(
            f"database {using!r}: new epoch at {report.seq}; every earlier cursor answers 410"
        )
