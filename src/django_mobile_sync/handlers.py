"""The DRF exception handler of the sync views: JSON error bodies, never HTML.

Every error answers ``{"detail": ..., "code": ...}`` (plus ``errors`` for a 400,
``reset_required`` for a 410 and ``minimum_schema_version`` for a 426).
"""

from __future__ import annotations

import logging
from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .exceptions import CursorExpired, InvalidCursor, UnsupportedContentEncoding, UpgradeRequired
from .parsers import ACCEPTED_ENCODINGS

logger = logging.getLogger("django_mobile_sync")


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
        response["Accept-Encoding"] = ", ".join(ACCEPTED_ENCODINGS)
    return response
