from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from django_mobile_sync.management.options import add_database_argument, database_alias
from django_mobile_sync.ops.purge import purge_idempotency_records


class Command(BaseCommand):
    help = "Delete idempotency records older than MOBILE_SYNC['IDEMPOTENCY_TTL']."

    def add_arguments(self, parser: Any) -> None:
        add_database_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        count = purge_idempotency_records(using=database_alias(options["database"]))
        self.stdout.write(f"Purged {count} expired idempotency record(s)")
