from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from django_mobile_sync.domains import get_domains
from django_mobile_sync.purge import purge_order, purge_tombstones


class Command(BaseCommand):
    help = (
        "Delete tombstones older than MOBILE_SYNC['TOMBSTONE_RETENTION'] and record the "
        "horizon: devices whose cursor is older get 410 and resync."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("domains", nargs="*", help="Domain names (default: all).")
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        domains = get_domains()
        names = options["domains"] or list(domains)
        for name in names:
            if name not in domains:
                raise CommandError(
                    f"Unknown sync domain {name!r}; declared: {', '.join(domains) or 'none'}."
                )
        # Children first: a tombstone synced records still point to waits for them.
        for domain in purge_order(domains[name] for name in names):
            count = purge_tombstones(domain, using=options["database"])
            self.stdout.write(f"{domain.name}: purged {count} tombstone(s)")
