"""``{prefix}watermelon/``: WatermelonDB's sync backend protocol (docs/clients/watermelondb.md).

``GET ?last_pulled_at=&schema_version=&migration=`` answers every table's change set and a
``timestamp`` (:mod:`.pull`); ``POST ?last_pulled_at=`` whose body is the changes object
applies the device's changes, or refuses them whole with ``409`` (:mod:`.push`). Tables are
the domains of ``MOBILE_SYNC["WATERMELON"]`` (:mod:`.tables`). Authentication,
permissions, throttling, idempotency, tenancy and client schema versions work as on the
native endpoints.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.http import StreamingHttpResponse
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from django_mobile_sync.api import (
    SCHEMA_VERSION_HEADER,
    BatchLimit,
    SyncJSONParser,
    SyncViewSchema,
    check_client_schema,
    read_key,
)
from django_mobile_sync.service import SyncService
from django_mobile_sync.views import MultiDomainView

from .openapi import WatermelonSchemaMixin
from .pull import Migration, WatermelonPull
from .push import RecordsChangedSincePull, apply_changes, read_changes
from .tables import Table, watermelon_tables

#: The idempotency scope of WatermelonDB pushes (no domain is named so: it has a space).
IDEMPOTENCY_SCOPE = "watermelon push"
#: ``last_pulled_at`` values meaning "never pulled" (WatermelonDB sends ``null``).
NEVER = ("", "null", "0")
#: The largest timestamp a device can store (WatermelonDB parses it as a JS number).
MAX_TIMESTAMP = 2**53 - 1
#: The records of one push, across tables (WatermelonDB sends every local change at once).
RECORDS = BatchLimit("WATERMELON_MAX_PUSH_RECORDS", "changes", "records per push", "push")


class PlainTextJSONParser(SyncJSONParser):
    """JSON sent as ``text/plain``: what ``fetch`` declares for a string body.

    WatermelonDB's documented ``pushChanges`` posts ``JSON.stringify(changes)`` without a
    ``Content-Type``. The same limits apply as to ``application/json``.
    """

    media_type = "text/plain"


class WatermelonView(MultiDomainView):
    """WatermelonDB's ``pullChanges`` (GET) and ``pushChanges`` (POST) endpoint."""

    schema = SyncViewSchema(WatermelonSchemaMixin)  # drf-spectacular, when the project uses it
    parser_classes = [SyncJSONParser, PlainTextJSONParser]

    def tables(self) -> dict[str, tuple[Table, SyncService]]:
        """The mapped tables this request may use, each with its domain's service."""
        tables = watermelon_tables()
        if not tables:
            raise exceptions.NotFound(
                "WatermelonDB sync is not set up: map tables to domains in "
                "MOBILE_SYNC['WATERMELON'].",
                code="watermelon_not_configured",
            )
        usable = {name: t for name, t in tables.items() if self.may_use(t.domain.name)}
        if not usable:
            raise exceptions.PermissionDenied(
                "You may not sync any of the WatermelonDB tables.", code="permission_denied"
            )
        services = self.services([table.domain for table in usable.values()])
        return {
            name: (table, service)
            for (name, table), service in zip(usable.items(), services, strict=True)
        }

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        params = request.query_params
        tables = self.tables()
        check_client_schema(
            params.get("schema_version") or None,
            [table.domain for table, _service in tables.values()],
            source="schema_version",
        )
        since = read_timestamp(params.get("last_pulled_at"))
        migration = read_migration(params.get("migration"))
        pull = WatermelonPull(tables)
        plan = pull.plan(since, migration if since is not None else None)
        if params.get("send_created_as_updated") in ("true", "1"):
            plan.created_as_updated()  # the app passes sendCreatedAsUpdated: true
        return StreamingHttpResponse(pull.stream(plan), content_type="application/json")

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        tables = self.tables()
        check_client_schema(
            request.headers.get(SCHEMA_VERSION_HEADER),
            [table.domain for table, _service in tables.values()],
        )
        since = read_timestamp(request.query_params.get("last_pulled_at"))
        if since is None:
            raise exceptions.ValidationError(
                {"last_pulled_at": ["Send the timestamp of the pull this push follows."]},
                code="invalid_last_pulled_at",
            )
        self.idempotency_key = key = read_key(request)
        changes = read_changes(request.data, {name: t for name, (t, _s) in tables.items()})
        RECORDS.check(sum(change_set.size for change_set in changes.values()))
        using = next(iter(tables.values()))[1].using
        replay = self.claim_idempotency(IDEMPOTENCY_SCOPE, using)
        if replay is not None:
            return replay
        try:
            result = apply_changes(tables, changes, since, idempotency_key=key or "")
        except RecordsChangedSincePull as refused:
            self.release_idempotency()  # the device retries these changes after a pull
            return Response(refused.as_dict(), status=409)
        return Response(result.as_dict())


def read_timestamp(value: str | None) -> int | None:
    """``last_pulled_at`` as a number; ``None`` for a device that never pulled."""
    if value is None or value.strip() in NEVER:
        return None
    try:
        number = int(value)
    except ValueError:
        number = -1
    if not 0 < number <= MAX_TIMESTAMP:
        raise exceptions.ValidationError(
            {
                "last_pulled_at": [
                    f"{value!r} is not a timestamp this server gave: send the number the "
                    "last pull answered, or null."
                ]
            },
            code="invalid_last_pulled_at",
        )
    return number


def read_migration(value: str | None) -> Migration | None:
    """The ``migration`` parameter of a migration sync, or ``None``."""
    if value is None or value.strip() in ("", "null"):
        return None
    try:
        data = json.loads(value)
        return migration_of(data)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        raise exceptions.ValidationError(
            {
                "migration": [
                    'Expected null or {"from": <version>, "tables": [...], '
                    '"columns": [{"table": ..., "columns": [...]}]}.'
                ]
            },
            code="invalid_migration",
        ) from None


def migration_of(data: Mapping[str, Any]) -> Migration:
    from_version = data["from"]
    tables = data.get("tables") or []
    columns = data.get("columns") or []
    if type(from_version) is not int or not isinstance(tables, list):
        raise TypeError("from and tables")
    if not all(isinstance(name, str) for name in tables) or not isinstance(columns, list):
        raise TypeError("tables and columns")
    added: dict[str, tuple[str, ...]] = {}
    for item in columns:
        names = item["columns"]
        if not isinstance(item["table"], str) or not all(isinstance(n, str) for n in names):
            raise TypeError("columns")
        added[item["table"]] = (*added.get(item["table"], ()), *names)
    return Migration(from_version, frozenset(tables), added)
