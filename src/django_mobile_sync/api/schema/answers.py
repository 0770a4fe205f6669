"""What every sync endpoint answers and sends, in the OpenAPI description: the error answers,
the headers of a push and a pull, the client schema version header."""

from __future__ import annotations

from typing import Any

from ..client_versions import HEADER as SCHEMA_VERSION_HEADER
from ..envelopes import ErrorResponseSerializer, ResetRequiredSerializer, UpgradeRequiredSerializer

#: An ``Idempotency-Key`` value: printable ASCII with at least one non-space character.
IDEMPOTENCY_KEY_PATTERN = "^[ -~]*[!-~][ -~]*$"


def error_response(description: str, serializer: Any = ErrorResponseSerializer) -> Any:
    from drf_spectacular.utils import OpenApiResponse

    return OpenApiResponse(serializer, description=description)


def with_common_responses(responses: dict[int, Any], minimum: int | None = None) -> dict[int, Any]:
    """``responses`` and the answers of every endpoint; a ``426`` below ``minimum``."""
    common = {
        401: error_response("Not authenticated."),
        403: error_response("Not allowed (for example: the user belongs to no tenant)."),
        429: error_response("Throttled; retry after `Retry-After` seconds."),
    }
    if minimum is not None:
        common[426] = error_response(
            f"The device's {SCHEMA_VERSION_HEADER} is below the minimum of the domains "
            f"involved (`minimum_schema_version`; {minimum} at most): update the app. "
            "Nothing was read or applied.",
            UpgradeRequiredSerializer,
        )
    return dict(sorted({**responses, **common}.items()))


def push_responses(ok: Any, minimum: int | None = None) -> dict[int, Any]:
    """The answers of a push endpoint, ``ok`` for the 200; a ``426`` below ``minimum``."""
    return with_common_responses(
        {
            200: ok,
            400: error_response(
                "Malformed JSON, envelope, Idempotency-Key or X-Client-Schema-Version, or "
                "too many entries."
            ),
            409: error_response("A request with this Idempotency-Key is still running."),
            413: error_response("The body (after gunzip) exceeds MAX_BODY_BYTES."),
            415: error_response("Unsupported Content-Encoding (see the Accept-Encoding header)."),
            422: error_response("This Idempotency-Key was used with another body."),
        },
        minimum,
    )


def pull_responses(ok: Any, minimum: int | None = None) -> dict[int, Any]:
    """The answers of a pull endpoint, ``ok`` for the 200; a ``426`` below ``minimum``."""
    return with_common_responses(
        {
            200: ok,
            400: error_response(
                "A malformed or foreign cursor, or a bad limit, filter value or "
                "X-Client-Schema-Version."
            ),
            410: error_response(
                "The cursor is older than the last tombstone purge: resync.",
                ResetRequiredSerializer,
            ),
        },
        minimum,
    )


def client_schema_version(minimum: int | None) -> Any:
    """The ``X-Client-Schema-Version`` request header; ``minimum``: the endpoint's."""
    from drf_spectacular.utils import OpenApiParameter

    refused = (
        f"below the minimum of the domains involved ({minimum} at most) is a 426"
        if minimum is not None
        else "is never refused here"
    )
    return OpenApiParameter(
        SCHEMA_VERSION_HEADER,
        {"type": "integer", "minimum": 0},
        OpenApiParameter.HEADER,
        description="The app's client schema version, a whole number ≥ 0 (else 400). "
        f"Optional: a device that sends none is not refused. A version {refused}.",
    )


def retry_after() -> Any:
    from drf_spectacular.types import OpenApiTypes
    from drf_spectacular.utils import OpenApiParameter

    return OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=[429],
        description="Seconds to wait before retrying.",
    )


def push_parameters() -> list[Any]:
    """The headers of a push endpoint (request and answer)."""
    from drf_spectacular.types import OpenApiTypes
    from drf_spectacular.utils import OpenApiParameter

    return [
        OpenApiParameter(
            "Idempotency-Key",
            # What idempotency.validate_key() accepts: printable ASCII, not blank.
            {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "pattern": IDEMPOTENCY_KEY_PATTERN,
            },
            OpenApiParameter.HEADER,
            description="Retry-safe key (Stripe semantics): a retry with the same key "
            "and body replays the first answer; another body is a 422.",
        ),
        OpenApiParameter(
            "X-Device-Id",
            OpenApiTypes.STR,
            OpenApiParameter.HEADER,
            description="The device; defaults to the envelope's `client_id`.",
        ),
        OpenApiParameter(
            "Content-Encoding",
            OpenApiTypes.STR,
            OpenApiParameter.HEADER,
            enum=["gzip", "identity"],
            description="Send `gzip` to upload a compressed body.",
        ),
        OpenApiParameter(
            "Idempotent-Replayed",
            OpenApiTypes.STR,
            OpenApiParameter.HEADER,
            enum=["true"],
            response=[200],
            description="Present on a replayed answer to a retried Idempotency-Key.",
        ),
        retry_after(),
    ]
