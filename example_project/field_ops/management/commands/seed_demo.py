"""``manage.py seed_demo``: two tenants with users and records of every domain, and an admin."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_mobile_sync.management.options import add_database_argument, database_alias
from field_ops.demo import login_text, seed


class Command(BaseCommand):
    help = (
        "Seed two demo tenants (clients) with users, a geofenced business unit and some "
        "records of every sync domain, and a demo admin login. Safe to run again: nothing "
        "is duplicated, and a changed admin password is left alone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_database_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        result = seed(using=database_alias(options["database"]))
        self.stdout.write(
            f"Demo records: {result['created']} created, {result['existing']} already there."
        )
        for username, tenant, token in result["users"]:
            self.stdout.write(f"  {username:<6} {tenant:<40} token {token}")
        self.stdout.write(f"Admin login: {login_text(*result['admin'])}.")
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
