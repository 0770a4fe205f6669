from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from django_mobile_sync.purge import purge_idempotency_records


class Command(BaseCommand):
    help = "Delete idempotency records older than MOBILE_SYNC['IDEMPOTENCY_TTL']."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        count = purge_idempotency_records(using=options["database"])
        self.stdout.write(f"Purged {count} expired idempotency record(s)")
