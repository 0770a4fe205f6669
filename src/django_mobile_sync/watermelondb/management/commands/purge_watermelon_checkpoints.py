from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from django_mobile_sync.management import add_database_argument, database_alias
from django_mobile_sync.watermelondb.checkpoints import purge_checkpoints


class Command(BaseCommand):
    help = (
        "Delete WatermelonDB checkpoints (the timestamps of its pulls) older than "
        "MOBILE_SYNC['TOMBSTONE_RETENTION']: answers that never reached their device, and "
        "devices that have not pulled for that long (their next pull is a replacement sync)."
    )

    def add_arguments(self, parser: Any) -> None:
        add_database_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        count = purge_checkpoints(using=database_alias(options["database"]))
        self.stdout.write(f"Purged {count} WatermelonDB checkpoint(s)")
