"""TEMPORARY stub: replaced by the textids branch."""

from __future__ import annotations

from typing import Any


def uses_text_ids(model: Any) -> bool:
    return True
