"""Errors of the sync endpoints: the ``APIException``s they answer with, and the DRF exception
handler that writes every error as JSON, never HTML.

Every error answers ``{"detail": ..., "code": ...}`` (plus ``errors`` for a 400,
``reset_required`` for a 410 and ``minimum_schema_version`` for a 426); docs/protocol.md#errors
lists them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from rest_framework import exceptions, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..exceptions import CursorExpired, InvalidCursor

logger = logging.getLogger("django_mobile_sync")


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The request body exceeds {limit} bytes (MAX_BODY_BYTES); "
            "send fewer entries per batch."
        )


class UnsupportedContentEncoding(APIException):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_code = "unsupported_content_encoding"

    def __init__(self, encoding: str, accepted: Sequence[str]) -> None:
        super().__init__(
            f"Content-Encoding {encoding!r} is not supported; use {' or '.join(accepted)}."
        )
        self.accepted = tuple(accepted)


class UpgradeRequired(APIException):
    """The device's client schema is older than a domain accepts (426): update the app.

    The answer names the minimum as ``minimum_schema_version``. RFC 9110 asks a 426 for an
    ``Upgrade`` header naming a protocol; there is none to name (a newer app is needed, not
    another protocol), and WSGI servers refuse that hop-by-hop header from an application.
    """

    status_code = status.HTTP_426_UPGRADE_REQUIRED
    default_code = "upgrade_required"

    def __init__(self, minimum_schema_version: int) -> None:
        super().__init__(
            f"This app's data schema is too old: the server accepts client schema version "
            f"{minimum_schema_version} or later. Update the app, then sync again."
        )
        self.minimum_schema_version = minimum_schema_version


class IdempotencyConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being processed; retry later."
    default_code = "idempotency_in_progress"


class IdempotencyMismatch(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was used with a different request body; "
        "use a new key for a new request."
    )
    default_code = "idempotency_key_reused"


def _first_message(detail: Any) -> str:
    while isinstance(detail, dict | list) and detail:
        detail = next(iter(detail.values())) if isinstance(detail, dict) else detail[0]
    return str(detail)


def _first_code(codes: Any) -> str:
    while isinstance(codes, dict | list) and codes:
        codes = next(iter(codes.values())) if isinstance(codes, dict) else codes[0]
    return str(codes or "error")


def sync_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus a stable ``code``, 410 for expired cursors and no HTML 500s."""
    if isinstance(exc, CursorExpired):
        return Response(
            {"detail": str(exc), "code": "reset_required", "reset_required": True},
            status=status.HTTP_410_GONE,
        )
    if isinstance(exc, InvalidCursor):
        exc = exceptions.ValidationError({"cursor": [str(exc)]}, code="invalid_cursor")
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unexpected error in a sync view", exc_info=exc)
        return Response(
            {
                "detail": "The server failed to handle this request; retry later.",
                "code": "server_error",
            },
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        field_errors = exc.detail
        response.data = {
            "detail": _first_message(field_errors),
            "code": _first_code(exc.get_codes()),
            "errors": field_errors,
        }
    elif isinstance(exc, exceptions.APIException):
        response.data = {"detail": str(exc.detail), "code": _first_code(exc.get_codes())}
    if isinstance(exc, UpgradeRequired):
        response.data["minimum_schema_version"] = exc.minimum_schema_version
    if isinstance(exc, UnsupportedContentEncoding):
        response["Accept-Encoding"] = ", ".join(exc.accepted)
    return response
