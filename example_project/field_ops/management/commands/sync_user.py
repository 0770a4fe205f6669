"""``manage.py sync_user USERNAME --client C --bu B``: a device user and its API token."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from field_ops.models import UserProfile
from field_ops.tenants import ensure_user


class Command(BaseCommand):
    help = (
        "Create (or reuse) a user in client C and business unit B and print its API "
        "token alone on the last line (use it as 'Authorization: Bearer <token>')."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--client", required=True, help="Client name (created if new).")
        parser.add_argument(
            "--bu", required=True, help="Business unit name within the client (created if new)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username, client, bu = options["username"], options["client"], options["bu"]
        lookup = {f"user__{get_user_model().USERNAME_FIELD}": username}
        before = UserProfile.objects.select_related("client", "bu").filter(**lookup).first()
        user, token = ensure_user(username, client, bu)
        if before is None:
            self.stdout.write(f"User {user} now works for {client} / {bu}.")
        elif (before.client.name, before.bu.name) != (client, bu):
            self.stdout.write(f"User {user} moved from {before.bu} to {client} / {bu}.")
        else:
            self.stdout.write(f"User {user} already works for {client} / {bu}.")
        self.stdout.write("API token (send it as 'Authorization: Bearer <token>'):")
        self.stdout.write(token)
