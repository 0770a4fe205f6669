"""The JSON renderer of the sync views: any answer renders, whatever text a device sent.

DRF writes JSON as UTF-8 without escaping (``UNICODE_JSON``). An answer that echoes a
device's text (a ``mobile_id`` that is not a UUID, a field value in an error message) may
hold an unpaired UTF-16 surrogate, which UTF-8 cannot encode: DRF's renderer would fail with
a 500. This one escapes such an answer as ASCII JSON (``"\\ud83d"``), which every JSON parser
reads back to the same string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import JSONRenderer


class SyncJSONRenderer(JSONRenderer):
    """DRF's ``JSONRenderer``, falling back to ASCII escapes for text UTF-8 cannot encode."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            text = json.dumps(
                data, cls=self.encoder_class, ensure_ascii=True, allow_nan=not self.strict
            )
            return text.encode("ascii")
