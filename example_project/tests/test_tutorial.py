"""docs/tutorial.md runs: its steps, replayed through HTTP, answer what the page shows.

The JSON blocks of the tutorial are compared with the real responses of the same requests:
same keys everywhere, same statuses, versions and messages; only timestamps, cursors and
the demo records (which differ per run) are left out.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"
TASK = "7d1c1f9e-0f5b-4c0e-9a53-2b1d0c6e8a41"
VOLATILE = {"timestamp", "cursor", "next_cursor", "next_timestamp", "updated_at"}


def json_blocks() -> list[Any]:
    text = TUTORIAL.read_text()
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]


def shape(value: Any) -> Any:
    """The value with volatile parts blanked, keeping keys, statuses and messages."""
    if isinstance(value, dict):
        return {k: ("<volatile>" if k in VOLATILE else shape(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return value


def test_tutorial_steps_answer_what_the_page_shows(alice, bob):
    create, pull_page, update, conflict, refused = json_blocks()
    entry = {
        "mobile_id": TASK,
        "version": 0,
        "jobdesc": "Replace the lobby air filter",
        "priority": "MEDIUM",
        "jobtype": "ADHOC",
        "jobstatus": "ASSIGNED",
        "plandatetime": "2026-12-01T09:00:00Z",
        "expirydatetime": "2026-12-01T11:00:00Z",
    }
    first = alice.push("activity", [entry], key="2b1d0c6e-8a41-4c0e-9a53-7d1c1f9e0f5b")
    assert shape(first.json()) == shape(create)
    again = alice.push("activity", [entry], key="2b1d0c6e-8a41-4c0e-9a53-7d1c1f9e0f5b")
    assert again["Idempotent-Replayed"] == "true" and again.content == first.content

    page = alice.pull("activity", limit=2).json()
    assert set(page) == set(pull_page)
    assert set(page["items"][0]) == set(pull_page["items"][0])

    step4 = alice.push("activity", [{"mobile_id": TASK, "version": 1, "jobstatus": "INPROGRESS"}])
    assert shape(step4.json()) == shape(update)

    step5 = bob.push("activity", [{"mobile_id": TASK, "version": 1, "priority": "HIGH"}])
    assert shape(step5.json()) == shape(conflict)

    step6 = alice.push("activity", [{"mobile_id": TASK, "version": 2, "jobstatus": "ASSIGNED"}])
    assert shape(step6.json()) == shape(refused)
