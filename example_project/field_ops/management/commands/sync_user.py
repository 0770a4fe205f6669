"""``manage.py sync_user USERNAME --client C --bu B [--create]``: a device user and its API
token. An unknown client or business unit is refused (a typo would otherwise start a tenant
of its own) unless ``--create`` says to create it."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models
from django.db.models import QuerySet

from django_mobile_sync.management.options import add_database_argument, database_alias
from field_ops.models import BusinessUnit, Client, UserProfile
from field_ops.tenants import ensure_user

#: At most this many existing names are listed when a client or unit is created.
LISTED = 20


def clean(field: models.Field[Any, Any], value: str, what: str) -> str:
    """``value`` as ``field`` stores it, or a one-line CommandError naming the problem."""
    if not value.strip():
        raise CommandError(f"The {what} is empty; give a name.")
    if not value.isprintable():
        raise CommandError(f"The {what} {value!r} contains control characters.")
    try:
        return str(field.clean(value, None))
    except ValidationError as exc:
        shown = value if len(value) <= 40 else f"{value[:40]}…"
        raise CommandError(f"The {what} {shown!r} is not valid: {' '.join(exc.messages)}") from exc


def listing(rows: QuerySet[Any]) -> str:
    """The ``name`` of the first rows, alphabetically, and how many more there are."""
    names = list(rows.order_by("name").values_list("name", flat=True)[:LISTED])
    if not names:
        return "none"
    more = rows.count() - len(names) if len(names) == LISTED else 0
    return ", ".join(names) + (f" and {more} more" if more else "")


class Command(BaseCommand):
    help = (
        "Create (or reuse) a user in client C and business unit B and print its API "
        "token alone on the last line (use it as 'Authorization: Bearer <token>'). An "
        "unknown client or unit is refused, listing the existing ones, unless --create."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--client", required=True, help="Client name.")
        parser.add_argument("--bu", required=True, help="Business unit name within the client.")
        parser.add_argument(
            "--create",
            action="store_true",
            help="Create the client and the business unit if they do not exist.",
        )
        parser.add_argument(
            "--role",
            choices=[role.value for role in UserProfile.Role],
            help="worker (the default for a new user: sees what is assigned to them) or "
            "supervisor (sees every record of the tenant); omitted: kept as it is.",
        )
        add_database_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        using = database_alias(options["database"])
        user_model = get_user_model()
        username_field = user_model._meta.get_field(user_model.USERNAME_FIELD)
        username = clean(username_field, options["username"], "username")  # type: ignore[arg-type]
        client_name = clean(
            Client._meta.get_field("name"), options["client"].strip(), "--client name"
        )
        bu_name = clean(BusinessUnit._meta.get_field("name"), options["bu"].strip(), "--bu name")

        clients = Client.objects.using(using)
        client = clients.filter(name=client_name).first()
        units = BusinessUnit.objects.using(using).filter(client=client)
        lookup = {f"user__{user_model.USERNAME_FIELD}": username}
        before = (
            UserProfile.objects.using(using)
            .select_related("client", "bu")
            .filter(**lookup)
            .first()
        )
        unit_exists = client is not None and units.filter(name=bu_name).exists()
        if not options["create"]:
            if client is None:
                raise CommandError(
                    f"Unknown client {client_name!r} (existing clients: {listing(clients)}; "
                    "names are case-sensitive). Pass --create to create it."
                )
            if not unit_exists:
                raise CommandError(
                    f"Unknown business unit {bu_name!r} of {client_name} (existing units: "
                    f"{listing(units)}). Pass --create to create it."
                )
        if client is None:
            self.stdout.write(
                f"Client {client_name!r}: new (existing clients: {listing(clients)}; "
                "names are case-sensitive)."
            )
        else:
            self.stdout.write(f"Client {client_name!r}: exists.")
        if not unit_exists:
            existing = listing(units) if client is not None else "none"
            self.stdout.write(
                f"Business unit {bu_name!r}: new (existing units of {client_name}: {existing})."
            )
        else:
            self.stdout.write(f"Business unit {bu_name!r}: exists.")
        role = options.get("role")
        user, token = ensure_user(username, client_name, bu_name, using=using, role=role)
        if before is None:
            self.stdout.write(f"User {user} now works for {client_name} / {bu_name}.")
        elif (before.client.name, before.bu.name) != (client_name, bu_name):
            self.stdout.write(f"User {user} moved from {before.bu} to {client_name} / {bu_name}.")
        else:
            self.stdout.write(f"User {user} already works for {client_name} / {bu_name}.")
        now = UserProfile.objects.using(using).get(user=user).role
        if before is not None and before.role != now:
            self.stdout.write(f"Role: {before.role} -> {now} (their devices are poked to sync).")
        else:
            self.stdout.write(f"Role: {now}.")
        self.stdout.write("API token (send it as 'Authorization: Bearer <token>'):")
        self.stdout.write(token)
