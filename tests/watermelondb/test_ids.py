"""WatermelonDB's default ids through ``{prefix}watermelon/``, with the test settings' own
mapping: the text-id domains ``folders`` (a self-reference ``parent``) and ``sheets``
(``folder``, and ``task``, a reference to a UUID domain)."""

from __future__ import annotations

import random
import string

from django.core.management import call_command

from tests.helpers.watermelon import change_set, pull, push_changes
from tests.testapp.models import Folder, Sheet


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


def test_an_upper_case_uuid_comes_back_exactly_as_the_device_sent_it(client):
    """iOS's ``uuidString`` is upper case; WatermelonDB compares ids as strings."""
    folder, sheet = "9E9D1C2A-4D5E-4F60-8A7B-9C0D1E2F3A4B", "0A1B2C3D-4E5F-4A6B-8C7D-8E9FA0B1C2D3"
    timestamp = pull(client)["timestamp"]
    changes = {
        "folders": change_set(created=[{"id": folder, "name": "Site", "parent_id": None}]),
        "sheets": change_set(
            created=[{"id": sheet, "folder_id": folder, "task_id": None, "title": "Plan"}]
        ),
    }
    response = push_changes(client, timestamp, changes)
    assert response.json() == {"experimentalRejectedIds": {}, "rejected": []}

    # The pushing device's next pull: the same ids, so no second copy on the device.
    own = pull(client, timestamp)["changes"]
    assert [r["id"] for r in own["folders"]["updated"] + own["folders"]["created"]] == [folder]
    [pulled_sheet] = own["sheets"]["updated"] + own["sheets"]["created"]
    assert (pulled_sheet["id"], pulled_sheet["folder_id"]) == (sheet, folder)
    # Another device, and the native endpoints, see the same ids.
    other = pull(client, device="phone-2")["changes"]
    assert [r["id"] for r in other["folders"]["created"]] == [folder]
    assert [(r["id"], r["folder_id"]) for r in other["sheets"]["created"]] == [(sheet, folder)]
    native = client.get("/api/sync/sheets/changes/").json()["items"]
    assert [(i["mobile_id"], i["folder"]) for i in native] == [(sheet, folder)]

    # Updating and deleting by that id name the same record; the lower-case spelling is
    # another id, which no record has.
    later = pull(client, timestamp)["timestamp"]
    changes = {
        "folders": change_set(updated=[{"id": folder, "name": "Site 2", "parent_id": None}]),
        "sheets": change_set(deleted=[sheet.lower()]),
    }
    assert push_changes(client, later, changes).status_code == 200
    assert [(f.mobile_id, f.name) for f in Folder.objects.all()] == [(folder, "Site 2")]
    assert not Sheet.all_objects.get(mobile_id=sheet).deleted
