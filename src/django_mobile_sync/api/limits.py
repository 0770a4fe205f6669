"""How many records one push may carry: a ``400`` naming the limit and its setting.

Every push endpoint checks its batch against a :class:`BatchLimit` before it applies anything
(docs/protocol.md#errors): the native pushes count entries (``MAX_BATCH_SIZE``, or a domain's
``max_batch_size``), a client protocol counts what its pushes carry under its own setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import exceptions

from ..conf import sync_settings


@dataclass(frozen=True)
class BatchLimit:
    """A limit on the records of one push.

    Attributes:
        setting: the ``MOBILE_SYNC`` key of the default limit.
        field: the request field the error names.
        unit: what is counted, per what (``"entries per batch"``).
        batch: what the request is called in the message (``"batch"``).
    """

    setting: str
    field: str
    unit: str
    batch: str

    def check(self, size: int, limit: int | None = None) -> None:
        """A ``400`` (``batch_too_large``) when ``size`` exceeds ``limit`` (default: the
        setting's value)."""
        if limit is None:
            limit = int(getattr(sync_settings, self.setting))
        if size > limit:
            raise exceptions.ValidationError(
                {
                    self.field: [
                        f"At most {limit} {self.unit} ({self.setting}); "
                        f"this {self.batch} has {size}."
                    ]
                },
                code="batch_too_large",
            )


#: The entries of a native push, one domain's or several domains' together.
ENTRIES = BatchLimit("MAX_BATCH_SIZE", "entries", "entries per batch", "batch")
