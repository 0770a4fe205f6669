from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from django_mobile_sync.files.purge import purge_files
from django_mobile_sync.management import add_database_argument, database_alias


class Command(BaseCommand):
    help = (
        "Delete expired uploads (MOBILE_SYNC['UPLOAD_EXPIRY']) and the files no live record "
        "has referenced for MOBILE_SYNC['FILE_RETENTION']. Never a file that a live record or "
        "an upload in progress refers to. Run it daily."
    )

    def add_arguments(self, parser: Any) -> None:
        add_database_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        done = purge_files(using=database_alias(options["database"]))
        self.stdout.write(
            f"Purged {done.uploads} upload(s) and {done.files} file(s); "
            f"{done.waiting} unreferenced file(s) wait out FILE_RETENTION"
        )
