"""``Idempotency-Key`` handling with Stripe's semantics, stored in the database.

The key is scoped to (user, domain, key). The first request stores its response; a retry
with the same body replays it byte for byte (``Idempotent-Replayed: true``); a different
body is a 422; a retry while the first is still running is a 409. 5xx and 429 responses are
not stored, so the device may retry them; a lock left by a crashed request expires.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from ..conf import sync_settings
from ..models import IdempotencyRecord
from .errors import IdempotencyConflict, IdempotencyMismatch

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


def read_key(request: Any) -> str | None:
    """The request's ``Idempotency-Key`` header, validated; ``None`` when it sent none."""
    key: str | None = request.headers.get(HEADER)
    if key is not None:
        validate_key(key)
    return key


def validate_key(key: str) -> str:
    if len(key) > MAX_KEY_LENGTH or not key.isprintable() or not key.isascii() or not key.strip():
        raise ValidationError(
            {"Idempotency-Key": [f"Must be 1 to {MAX_KEY_LENGTH} printable ASCII characters."]},
            code="invalid_idempotency_key",
        )
    return key


def request_fingerprint(data: Any) -> str:
    """A digest of the parsed body: the same JSON with other spacing or key order matches."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Claim:
    """The right to run the request for a key (``record``), or a response to replay."""

    record: IdempotencyRecord | None = None
    replay: HttpResponse | None = None


def claim(user_key: str, domain: str, key: str, fingerprint: str, using: str) -> Claim:
    """Take the key for this request, or answer with the stored response, 409 or 422."""
    now = timezone.now()
    records = IdempotencyRecord.objects.using(using)
    lock_until = now + sync_settings.IDEMPOTENCY_LOCK_TIMEOUT
    for _ in range(3):
        try:
            with transaction.atomic(using=using):
                record = records.create(
                    user_key=user_key,
                    domain=domain,
                    key=key,
                    request_hash=fingerprint,
                    locked_until=lock_until,
                    expires_at=now + sync_settings.IDEMPOTENCY_TTL,
                )
            return Claim(record=record)
        except IntegrityError:
            pass
        found = records.filter(user_key=user_key, domain=domain, key=key).first()
        if found is None:
            continue  # purged meanwhile: try to create it again
        record = found
        if record.expires_at <= now:
            records.filter(pk=record.pk, expires_at__lte=now).delete()
            continue
        if record.request_hash != fingerprint:
            raise IdempotencyMismatch()
        if record.state == IdempotencyRecord.DONE:
            records.filter(pk=record.pk).update(hits=F("hits") + 1)
            response = HttpResponse(
                bytes(record.response_body or b""),
                status=record.response_status,
                content_type=record.response_content_type,
            )
            response[REPLAYED_HEADER] = "true"
            return Claim(replay=response)
        # Still running: take it over only if the first request's lock expired (crashed).
        if record.locked_until > now:
            raise IdempotencyConflict()
        if records.filter(pk=record.pk, locked_until=record.locked_until).update(
            locked_until=lock_until
        ):
            record.locked_until = lock_until
            return Claim(record=record)
        raise IdempotencyConflict()
    raise IdempotencyConflict()


def finish(record: IdempotencyRecord, response: Any, using: str) -> None:
    """Store a final response for replay, or free the key when the device should retry."""
    records = IdempotencyRecord.objects.using(using).filter(pk=record.pk)
    if response.status_code >= 500 or response.status_code == 429:
        records.delete()
        return
    records.update(
        state=IdempotencyRecord.DONE,
        response_status=response.status_code,
        response_body=bytes(response.content),
        response_content_type=response.get("Content-Type", "application/json"),
    )


def release(record: IdempotencyRecord, using: str) -> None:
    """Free the key after an unexpected failure."""
    IdempotencyRecord.objects.using(using).filter(pk=record.pk).delete()
