"""WatermelonDB's default ids through ``{prefix}watermelon/``, with the test settings' own
mapping: the text-id domains ``folders`` (a self-reference ``parent``) and ``sheets``
(``folder``, and ``task``, a reference to a UUID domain)."""

from __future__ import annotations

import random
import string

from django.core.management import call_command

from tests.test_watermelon import change_set, pull, push_changes


def watermelon_id() -> str:
    """An id as WatermelonDB makes them: 16 characters of [0-9a-zA-Z]."""
    return "".join(random.choices(string.ascii_letters + string.digits, k=16))


def test_default_16_character_ids_sync_both_ways_and_on_the_native_endpoints(client, org):
    parent, child, sheet = watermelon_id(), watermelon_id(), watermelon_id()
    timestamp = pull(client)["timestamp"]
    changes = {
        "sheets": change_set(
            created=[{"id": sheet, "folder_id": child, "task_id": None, "title": "Plan"}]
        ),
        "folders": change_set(
            created=[
                {"id": child, "name": "Floor 1", "parent_id": parent},
                {"id": parent, "name": "Site", "parent_id": ""},
            ]
        ),
    }
    response = push_changes(client, timestamp, changes)
    assert response.json() == {"experimentalRejectedIds": {}, "rejected": []}
    native = client.get("/api/sync/folders/changes/").json()["items"]
    assert {item["mobile_id"]: item["parent"] for item in native} == {parent: None, child: parent}

    other_device = pull(client, device="phone-2")["changes"]
    assert {r["id"]: r["parent_id"] for r in other_device["folders"]["created"]} == {
        parent: None,
        child: parent,
    }
    [pulled] = other_device["sheets"]["created"]
    assert pulled == {"id": sheet, "folder_id": child, "task_id": None, "title": "Plan"}


def test_the_settings_mapping_passes_the_checks():
    call_command("check")
