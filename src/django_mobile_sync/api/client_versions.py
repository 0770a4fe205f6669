"""Client schema versions (docs/protocol.md#client-schema-versions): refuse a device whose
app is too old, never sync it partly.

A device names its local schema in the ``X-Client-Schema-Version`` header (WatermelonDB: the
``schema_version`` query parameter); a domain may declare ``min_client_schema_version``.
:func:`check_client_schema` is the one check every endpoint calls before it reads or applies
anything: below the highest minimum of the domains involved, the answer is ``426``
(:class:`~django_mobile_sync.api.errors.UpgradeRequired`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rest_framework import exceptions

from ..domains import SyncDomain
from .errors import UpgradeRequired

__all__ = ["HEADER", "UpgradeRequired", "check_client_schema", "minimum_schema_version"]

#: The request header that carries a device's client schema version.
HEADER = "X-Client-Schema-Version"
_WHOLE_NUMBER = re.compile(r"[0-9]+")


def minimum_schema_version(domains: Iterable[SyncDomain]) -> int | None:
    """The highest ``min_client_schema_version`` of ``domains``, or ``None`` if none sets one."""
    minimums = [d.min_client_schema_version for d in domains]
    return max((m for m in minimums if m is not None), default=None)


def check_client_schema(
    version: str | int | None, domains: Iterable[SyncDomain], *, source: str = HEADER
) -> None:
    """Refuse a device whose client schema is older than one of ``domains`` accepts.

    Args:
        version: what the device sent (a header or query parameter value, or an int);
            ``None`` when it sent nothing, which is accepted: a minimum only binds devices
            that say which schema they have.
        domains: every domain the request reads or writes.
        source: where ``version`` came from, named by the ``400`` of a malformed value.

    Raises:
        ValidationError: ``version`` is not a whole number ≥ 0 (``400``
            ``invalid_schema_version``).
        UpgradeRequired: ``version`` is below the highest minimum of ``domains`` (``426``).
    """
    if version is None:
        return
    number = _parse(version)
    if number is None:
        raise exceptions.ValidationError(
            {source: [f"{source} must be a whole number ≥ 0, not {str(version)[:50]!r}."]},
            code="invalid_schema_version",
        )
    minimum = minimum_schema_version(domains)
    if minimum is not None and number < minimum:
        raise UpgradeRequired(minimum)


def _parse(version: str | int) -> int | None:
    if isinstance(version, bool):
        return None
    if isinstance(version, int):
        return version if version >= 0 else None
    text = version.strip()
    if not _WHOLE_NUMBER.fullmatch(text):
        return None
    try:
        return int(text)
    except ValueError:  # beyond Python's int conversion limit: no schema has such a number
        return None
