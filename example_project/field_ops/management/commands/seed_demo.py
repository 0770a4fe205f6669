"""``manage.py seed_demo``: two tenants with users and records of every domain."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from field_ops.demo import seed


class Command(BaseCommand):
    help = (
        "Seed two demo tenants (clients) with users, a geofenced business unit and some "
        "records of every sync domain. Safe to run again: nothing is duplicated."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = seed()
        self.stdout.write(
            f"Demo records: {result['created']} created, {result['existing']} already there."
        )
        for username, tenant, token in result["users"]:
            self.stdout.write(f"  {username:<6} {tenant:<40} token {token}")
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
