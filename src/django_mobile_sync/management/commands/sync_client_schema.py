from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from django_mobile_sync.ops.client_schema import rxdb_schemas, typescript_types


def schema_formats() -> dict[str, Callable[..., Any]]:
    """``rxdb``, ``typescript``, and the formats of installed apps (``client_schema_formats``)."""
    formats: dict[str, Callable[..., Any]] = {"rxdb": rxdb_schemas, "typescript": typescript_types}
    for config in apps.get_app_configs():
        for name, path in getattr(config, "client_schema_formats", {}).items():
            formats[name] = import_string(path)
    return formats


class Command(BaseCommand):
    help = (
        "Print the client schemas of the declared domains: --format watermelondb (JSON: the "
        "tables of MOBILE_SYNC['WATERMELON'], for appSchema()/tableSchema()), --format rxdb "
        "(JSON: an RxDB JSON schema per domain) or --format typescript (a type per domain's "
        "record). docs/clients/schemas.md"
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--format",
            required=True,
            help="watermelondb (needs django_mobile_sync.watermelondb installed), rxdb or "
            "typescript.",
        )
        parser.add_argument(
            "--schema-version",
            type=int,
            help="watermelondb: the schema's version (default: the highest "
            "min_client_schema_version of the mapped domains, or 1).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        formats = schema_formats()
        chosen = options["format"]
        if chosen not in formats:
            known = ", ".join(sorted(formats))
            hint = ""
            if chosen == "watermelondb":
                hint = " Add 'django_mobile_sync.watermelondb' to INSTALLED_APPS."
            raise CommandError(f"Unknown format {chosen!r}; choose one of: {known}.{hint}")
        kwargs = {}
        if options["schema_version"] is not None:
            if chosen != "watermelondb":
                raise CommandError("--schema-version applies to --format watermelondb only.")
            if options["schema_version"] < 1:
                raise CommandError("--schema-version must be 1 or more.")
            kwargs["version"] = options["schema_version"]
        schema = formats[chosen](**kwargs)
        if isinstance(schema, str):
            self.stdout.write(schema, ending="")
        else:
            self.stdout.write(json.dumps(schema, indent=2, ensure_ascii=False))
