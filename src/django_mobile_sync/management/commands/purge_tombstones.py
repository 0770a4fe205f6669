from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from django_mobile_sync.domains import get_domains
from django_mobile_sync.management.options import add_database_argument, database_alias
from django_mobile_sync.ops.purge import purge_order, purge_tombstones


class Command(BaseCommand):
    help = (
        "Delete tombstones older than MOBILE_SYNC['TOMBSTONE_RETENTION'] and record the "
        "horizon: devices whose cursor is older get 410 and resync."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("domains", nargs="*", help="Domain names (default: all).")
        add_database_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        using = database_alias(options["database"])
        domains = get_domains()
        names = options["domains"] or list(domains)
        unknown = [name for name in names if name not in domains]
        if unknown:  # before purging any: a typo never leaves a purge half done
            raise CommandError(
                f"Unknown sync domain {', '.join(map(repr, unknown))}; "
                f"declared: {', '.join(domains) or 'none'}."
            )
        # Children first: a tombstone synced records still point to waits for them.
        for domain in purge_order(domains[name] for name in names):
            count = purge_tombstones(domain, using=using)
            self.stdout.write(f"{domain.name}: purged {count} tombstone(s)")
