"""The engine page's examples (docs/engine.md) run against the test app and do what it says."""

from __future__ import annotations

import types
from typing import Any

from django_mobile_sync.engine.cursor import decode_feed_cursor, encode_feed_cursor
from tests.helpers.api import new_id, push
from tests.testapp.models import Note, Task


def test_the_import_example_applies_two_domains_in_one_batch(
    fieldwork: types.ModuleType,
    user: Any,
    org: Any,
) -> None:
    good, bad = new_id(), new_id()
    rows = [
        {"id": good, "title": "Check the pump", "note": "bring a wrench"},
        {"id": bad, "title": "", "note": "a blank title is refused"},
    ]
    failures = fieldwork.imports.import_sheet(user, org, rows)
    assert list(failures) == [bad] and "title" in failures[bad]
    assert Task.objects.get(mobile_id=good).title == "Check the pump"
    assert {str(m) for m in Note.objects.values_list("mobile_id", flat=True)} == {good, bad}


def test_the_export_example_sends_every_change_once_and_resumes(
    fieldwork: types.ModuleType,
    client: Any,
    user: Any,
    org: Any,
) -> None:
    push(client, [{"mobile_id": new_id(), "title": f"task {i}"} for i in range(3)])
    push(client, [{"mobile_id": new_id(), "text": "a note"}], domain="notes")
    feed = fieldwork.exports.feed_for(user, org)
    sent: list[dict[str, list[Any]]] = []
    position = fieldwork.exports.export_changes(feed, sent.append)
    assert sum(len(p["tasks"]) for p in sent) == 3 and sum(len(p["notes"]) for p in sent) == 1
    token = encode_feed_cursor(feed.scopes, position)
    push(client, [{"mobile_id": new_id(), "title": "later"}])
    later: list[dict[str, list[Any]]] = []
    fieldwork.exports.export_changes(feed, later.append, decode_feed_cursor(token, feed.scopes))
    assert [i["title"] for p in later for i in p["tasks"]] == ["later"]
    assert not any(p["notes"] for p in later)
