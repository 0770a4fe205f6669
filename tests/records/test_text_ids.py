"""Text ``mobile_id``s, opted into per model: WatermelonDB's ids on the native API
(docs/domains.md#text-ids-watermelondbs-ids).

``folders`` and ``sheets`` (tests/testapp) declare ``mobile_id = TextMobileIdField()``;
``tasks`` keeps UUID ids. A folder may sit in another folder; a sheet references a folder
(text ids) and maybe a task (UUID ids).
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.writer import MigrationWriter

from django_mobile_sync.admin.reapply import reapply_client_version
from django_mobile_sync.models import SyncConflict
from django_mobile_sync.records.ids import (
    TEXT_ID_RULE,
    MobileId,
    RewriteHexUUIDs,
    TextMobileIdField,
    id_order,
    read_mobile_id,
    rewrite_hex_uuids,
    uses_text_ids,
)
from tests.helpers.api import CHANGES, multi_pull_all, multi_push, new_id, pull_all, push
from tests.testapp.models import Folder, Sheet, Task

#: WatermelonDB's default ids: 16 characters from [0-9a-zA-Z].
WM_ID, WM_OTHER = "k3XqP0AbZ9wQ1mNs", "Zq81LmNoPq2RsTuv"


TEXT_MESSAGE = f"mobile_id must be {TEXT_ID_RULE}."


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def statuses(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i["mobile_id"], i["status"]) for i in body["synced_items"]]


def test_the_models_that_opted_in() -> None:
    assert uses_text_ids(Folder) and uses_text_ids(Sheet)
    assert not uses_text_ids(Task) and not uses_text_ids(SyncConflict)
    field = Folder._meta.get_field("mobile_id")
    assert isinstance(field, TextMobileIdField)
    assert field.max_length == 64 and field.deconstruct()[3]["db_index"]
    assert len(Folder().mobile_id) == 36  # a new UUID, as text, for records made on the server


UPPER = "6F1C2A3B-4D5E-4F60-8A7B-9C0D1E2F3A4B"


CANONICAL = UPPER.lower()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (WM_ID, WM_ID),
        ("a", "a"),
        ("ABC", "ABC"),
        ("x" * 64, "x" * 64),
        ("with_under-score", "with_under-score"),
        # A UUID is an id like any other, kept byte for byte: the device (WatermelonDB, an
        # iOS uuidString) matches ids as strings.
        (UPPER, UPPER),
        (CANONICAL, CANONICAL),
        (CANONICAL.replace("-", ""), CANONICAL.replace("-", "")),
        (UPPER.replace("-", ""), UPPER.replace("-", "")),
        # Braces and colons are not in the alphabet: no spelling is rewritten into another.
        ("{" + UPPER + "}", None),
        ("urn:uuid:" + CANONICAL, None),
        # uuid.UUID() takes underscores between digits (int()'s leniency): a text id here.
        ("aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbb"),
        ("x" * 65, None),
        ("a/b", None),
        ("", None),
        ("a b", None),
        ("é", None),
        ("abc\n", None),
        (" " + CANONICAL, None),
        (12, None),
        (None, None),
        (["a"], None),
    ],
)
def test_read_mobile_id_of_a_text_id_model(value: Any, expected: str | None) -> None:
    assert read_mobile_id(value, text=True) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (UPPER, uuid.UUID(UPPER)),
        ("{" + UPPER + "}", uuid.UUID(UPPER)),
        (WM_ID, None),
        ("", None),
        (12, None),
    ],
)
def test_read_mobile_id_of_a_uuid_model_is_unchanged(value: Any, expected: Any) -> None:
    assert read_mobile_id(value, text=False) == expected


def test_id_order_sorts_uuids_by_integer_and_text_ids_by_code_point() -> None:
    low, high = uuid.UUID(int=1), uuid.UUID(int=2**100)
    assert sorted([high, low], key=id_order) == [low, high]
    assert sorted(["b", "B", "a"], key=id_order) == ["B", "a", "b"]
    mixed: list[MobileId] = ["a", high]
    assert sorted(mixed, key=id_order) == [high, "a"]  # either kind, deterministic


def test_a_watermelon_id_is_created_updated_deleted_and_pulled_back_unchanged(client):
    body = ok(push(client, [{"mobile_id": WM_ID, "name": "Inbox"}], "folders"))
    assert statuses(body) == [(WM_ID, "created")]
    assert Folder.objects.get().mobile_id == WM_ID
    [item], cursor = pull_all(client, "folders")
    assert item["mobile_id"] == WM_ID and item["name"] == "Inbox" and item["version"] == 1

    body = ok(push(client, [{"mobile_id": WM_ID, "version": 1, "name": "Mail"}], "folders"))
    assert statuses(body) == [(WM_ID, "updated")]
    [item], cursor = pull_all(client, "folders", cursor=cursor)
    assert (item["mobile_id"], item["name"], item["version"]) == (WM_ID, "Mail", 2)

    body = ok(push(client, [{"mobile_id": WM_ID, "version": 2, "deleted": True}], "folders"))
    assert statuses(body) == [(WM_ID, "deleted")]
    [item], _ = pull_all(client, "folders", cursor=cursor)
    assert (item["mobile_id"], item["deleted"], item["version"]) == (WM_ID, True, 3)


def test_text_ids_are_case_sensitive(client):
    lower, upper = "abcdefghijklmnop", "ABCDEFGHIJKLMNOP"
    body = ok(
        push(
            client,
            [{"mobile_id": lower, "name": "lower"}, {"mobile_id": upper, "name": "upper"}],
            "folders",
        )
    )
    assert statuses(body) == [(lower, "created"), (upper, "created")]
    assert dict(Folder.objects.values_list("mobile_id", "name")) == {
        lower: "lower",
        upper: "upper",
    }
    body = ok(push(client, [{"mobile_id": "AbCdEfGhIjKlMnOp", "name": "third"}], "folders"))
    assert statuses(body) == [("AbCdEfGhIjKlMnOp", "created")]
    # A reference names exactly one of them.
    body = ok(push(client, [{"mobile_id": "s1", "folder": upper, "title": "t"}], "sheets"))
    assert Sheet.objects.get().folder.name == "upper"


def test_a_uuid_in_upper_case_is_kept_as_sent_on_the_native_endpoints(client):
    body = ok(push(client, [{"mobile_id": UPPER, "name": "Old folder"}], "folders"))
    assert statuses(body) == [(UPPER, "created")]
    assert Folder.objects.get().mobile_id == UPPER
    [item], cursor = pull_all(client, "folders")
    assert item["mobile_id"] == UPPER
    body = ok(push(client, [{"mobile_id": UPPER, "version": 1, "name": "Renamed"}], "folders"))
    assert statuses(body) == [(UPPER, "updated")]
    # Another spelling is another id: another record, as "abc" and "ABC" are.
    body = ok(push(client, [{"mobile_id": CANONICAL, "name": "Lower"}], "folders"))
    assert statuses(body) == [(CANONICAL, "created")]
    assert dict(Folder.objects.values_list("mobile_id", "name")) == {
        UPPER: "Renamed",
        CANONICAL: "Lower",
    }
    # A reference names exactly the record spelled so, and pulls back as it was sent.
    body = ok(push(client, [{"mobile_id": "s1", "folder": UPPER, "title": "t"}], "sheets"))
    assert statuses(body) == [("s1", "created")] and body["errors"] == []
    assert Sheet.objects.get().folder.name == "Renamed"
    [sheet], _ = pull_all(client, "sheets")
    assert sheet["folder"] == UPPER
    # Conflicts carry the id as sent, and so does the audit row.
    body = ok(push(client, [{"mobile_id": UPPER, "version": 1, "name": "stale"}], "folders"))
    [conflict] = body["conflicts"]
    assert conflict["mobile_id"] == UPPER and conflict["server_data"]["mobile_id"] == UPPER
    assert SyncConflict.objects.get().mobile_id == UPPER
    items, _ = pull_all(client, "folders", cursor=cursor)
    assert {i["mobile_id"] for i in items} == {UPPER, CANONICAL}


def test_a_uuid_in_upper_case_is_kept_as_sent_on_the_multi_domain_endpoints(client):
    response = multi_push(
        client,
        {
            "sheets": [{"mobile_id": "sheet-1", "folder": UPPER, "title": "One"}],
            "folders": [{"mobile_id": UPPER, "name": "Inbox"}],
        },
    )
    body = ok(response)["domains"]
    assert statuses(body["folders"]) == [(UPPER, "created")]
    assert statuses(body["sheets"]) == [("sheet-1", "created")]
    pages, _ = multi_pull_all(client, domains="folders,sheets")
    items = [item for page in pages for found in page["changes"].values() for item in found]
    assert {item["mobile_id"] for item in items} == {UPPER, "sheet-1"}
    assert [item["folder"] for item in items if item["mobile_id"] == "sheet-1"] == [UPPER]


@pytest.mark.parametrize(
    "bad", ["x" * 65, "a/b", "", 12, "a b", "{abc}", "{" + UPPER + "}", "urn:uuid:" + CANONICAL]
)
def test_a_malformed_text_id_is_an_item_error_naming_the_rule(client, bad):
    body = ok(
        push(
            client,
            [
                {"mobile_id": WM_ID, "name": "before"},
                {"mobile_id": bad, "name": "bad"},
                {"mobile_id": WM_OTHER, "name": "after"},
            ],
            "folders",
        )
    )
    assert statuses(body) == [(WM_ID, "created"), (WM_OTHER, "created")]
    [error] = body["errors"]
    assert error["mobile_id"] == (bad if isinstance(bad, str) else None)
    assert error["error_message"] == TEXT_MESSAGE
    assert error["field_errors"] == {"mobile_id": [TEXT_MESSAGE]}
    assert "1 to 64 characters from A-Z, a-z, 0-9, _ and -" in TEXT_MESSAGE
    assert set(Folder.objects.values_list("name", flat=True)) == {"before", "after"}


def test_a_missing_id_is_still_required(client):
    body = ok(push(client, [{"name": "no id"}], "folders"))
    assert body["errors"][0]["error_message"] == "mobile_id is required."


def test_a_uuid_domain_still_refuses_a_text_id(client):
    task = new_id()
    body = ok(
        push(client, [{"mobile_id": WM_ID, "title": "x"}, {"mobile_id": task, "title": "y"}])
    )
    assert statuses(body) == [(task, "created")]
    [error] = body["errors"]
    assert error["mobile_id"] == WM_ID
    assert error["error_message"] == "mobile_id must be a UUID."
    assert error["field_errors"] == {"mobile_id": ["mobile_id must be a UUID."]}
    # And a reference to a UUID model takes UUIDs only, whatever the referencing model.
    ok(push(client, [{"mobile_id": "f", "name": "folder"}], "folders"))
    sheet = {"mobile_id": "s", "folder": "f", "title": "t"}
    body = ok(push(client, [{**sheet, "task": WM_ID}], "sheets"))
    [error] = body["errors"]
    assert error["field_errors"] == {"task": ["Must be a valid UUID."]}
    body = ok(push(client, [{**sheet, "task": task}], "sheets"))
    assert statuses(body) == [("s", "created")]
    assert Sheet.objects.get().task.mobile_id == uuid.UUID(task)


def test_a_malformed_reference_to_a_text_id_model_names_the_rule(client):
    body = ok(push(client, [{"mobile_id": "s", "folder": "a/b", "title": "t"}], "sheets"))
    [error] = body["errors"]
    assert error["field_errors"] == {"folder": [f"Must be {TEXT_ID_RULE}."]}
    body = ok(push(client, [{"mobile_id": "s", "folder": WM_ID, "title": "t"}], "sheets"))
    [error] = body["errors"]
    assert error["code"] == "unknown_reference"
    assert error["field_errors"] == {"folder": ["No record with this id exists in your scope."]}


def test_references_to_a_text_id_parent_in_the_same_push_and_an_earlier_one(client):
    # Same push, child first: a folder inside a folder (a self-reference).
    body = ok(
        push(
            client,
            [
                {"mobile_id": "child-folder", "name": "Child", "parent": WM_ID},
                {"mobile_id": WM_ID, "name": "Parent"},
            ],
            "folders",
        )
    )
    assert statuses(body) == [("child-folder", "created"), (WM_ID, "created")]
    child = Folder.objects.get(mobile_id="child-folder")
    assert child.parent is not None and child.parent.mobile_id == WM_ID
    # An earlier push: sheets in the folder created above.
    body = ok(push(client, [{"mobile_id": WM_OTHER, "folder": WM_ID, "title": "N"}], "sheets"))
    assert statuses(body) == [(WM_OTHER, "created")]
    [sheet], _ = pull_all(client, "sheets")
    assert (sheet["mobile_id"], sheet["folder"], sheet["task"]) == (WM_OTHER, WM_ID, None)
    folders = {f["mobile_id"]: f for f in pull_all(client, "folders")[0]}
    assert folders["child-folder"]["parent"] == WM_ID


def test_references_to_a_text_id_parent_on_the_multi_domain_endpoints(client):
    task = new_id()
    response = multi_push(
        client,
        {  # children first: the server orders the writes
            "sheets": [
                {"mobile_id": "sheet-1", "folder": WM_ID, "task": task, "title": "One"},
                {"mobile_id": "sheet-2", "folder": "nowhere", "title": "Two"},
            ],
            "folders": [{"mobile_id": WM_ID, "name": "Inbox"}],
            "tasks": [{"mobile_id": task, "title": "A task"}],
        },
    )
    body = ok(response)["domains"]
    assert statuses(body["sheets"]) == [("sheet-1", "created")]
    assert [e["code"] for e in body["sheets"]["errors"]] == ["unknown_reference"]
    assert statuses(body["folders"]) == [(WM_ID, "created")]
    # A later request names the folder created in the earlier one.
    body = ok(
        multi_push(client, {"sheets": [{"mobile_id": "sheet-3", "folder": WM_ID, "title": "3"}]})
    )["domains"]
    assert statuses(body["sheets"]) == [("sheet-3", "created")]
    pages, _ = multi_pull_all(client, domains="folders,sheets")
    changes: dict[str, list[dict[str, Any]]] = {"folders": [], "sheets": []}
    for page in pages:
        for name, items in page["changes"].items():
            changes[name] += items
    assert [f["mobile_id"] for f in changes["folders"]] == [WM_ID]
    assert {s["mobile_id"]: s["folder"] for s in changes["sheets"]} == {
        "sheet-1": WM_ID,
        "sheet-3": WM_ID,
    }
    assert client.get(CHANGES, {"domains": "sheets"}).status_code == 200


def test_deleting_a_text_id_parent_cascades_to_its_children(client):
    ok(push(client, [{"mobile_id": WM_ID, "name": "Inbox"}], "folders"))
    ok(push(client, [{"mobile_id": WM_OTHER, "folder": WM_ID, "title": "t"}], "sheets"))
    body = ok(push(client, [{"mobile_id": WM_ID, "version": 1, "deleted": True}], "folders"))
    assert statuses(body) == [(WM_ID, "deleted")]
    assert Sheet.all_objects.get(mobile_id=WM_OTHER).deleted


def test_conflicts_on_a_text_id_record_are_audited_with_its_id(client, user):
    ok(push(client, [{"mobile_id": WM_ID, "name": "Base"}], "folders"))
    ok(push(client, [{"mobile_id": WM_ID, "version": 1, "name": "Server"}], "folders"))
    body = ok(push(client, [{"mobile_id": WM_ID, "version": 1, "name": "Device"}], "folders"))
    [conflict] = body["conflicts"]
    assert conflict["mobile_id"] == WM_ID
    audit = SyncConflict.objects.get()
    assert audit.mobile_id == WM_ID and audit.domain == "folders"
    assert SyncConflict.objects.filter(mobile_id=WM_ID.lower()).count() == 0  # case-sensitive
    # The admin's re-apply finds the record by the audited id.
    reapplied = reapply_client_version(audit, user=user, using="default")
    assert reapplied.audit is not None and reapplied.audit.mobile_id == WM_ID
    assert Folder.objects.get().name == "Device"


def test_an_upper_case_uuid_is_audited_in_its_canonical_form(client):
    ok(push(client, [{"mobile_id": UPPER, "title": "Base"}]))
    ok(push(client, [{"mobile_id": UPPER, "version": 1, "title": "Server"}]))
    ok(push(client, [{"mobile_id": UPPER, "version": 1, "title": "Device"}]))
    assert SyncConflict.objects.get().mobile_id == CANONICAL


def test_rewrite_hex_uuids_makes_sqlite_uuids_canonical(org):
    hex_id, text_hex = uuid.uuid4().hex.upper(), "abcdef0123456789"  # 16 hex: a text id
    rows = {
        "stored by a UUIDField": hex_id,
        "text id": WM_ID,
        "text id of 16 hex digits": text_hex,
        "32 characters, not hex": "g" * 32,
        "canonical": CANONICAL,
    }
    for name, value in rows.items():
        Folder.objects.create(org=org, name=name)
        Folder.all_objects.filter(name=name).update(mobile_id=value)  # as the column holds it
    version_before = dict(Folder.all_objects.values_list("name", "version"))
    assert rewrite_hex_uuids(Folder, "default") == 1
    after = dict(Folder.all_objects.values_list("name", "mobile_id"))
    assert after == {**rows, "stored by a UUIDField": str(uuid.UUID(hex_id))}
    # The ids did not change, only their spelling: devices are not told.
    assert dict(Folder.all_objects.values_list("name", "version")) == version_before
    assert rewrite_hex_uuids(Folder, "default") == 0


def test_the_runpython_step_rewrites_every_model_it_names(org):
    Folder.objects.create(org=org, name="f", mobile_id=CANONICAL.replace("-", ""))
    SyncConflict.objects.create(
        domain="folders",
        model="testapp.Folder",
        mobile_id=CANONICAL.replace("-", ""),
        client_version=1,
        server_version=2,
    )
    step = RewriteHexUUIDs("testapp.Folder", "django_mobile_sync.SyncConflict")
    step(apps, SimpleNamespace(connection=connection))
    assert Folder.objects.get().mobile_id == CANONICAL
    assert SyncConflict.objects.get().mobile_id == CANONICAL
    # It can be written into a migration file (and squashed).
    code, imports = MigrationWriter.serialize(step)
    assert code == (
        "django_mobile_sync.models.RewriteHexUUIDs('testapp.Folder', "
        "'django_mobile_sync.SyncConflict')"
    )
    assert imports == {"import django_mobile_sync.models"}


@pytest.mark.django_db(transaction=True)
def test_migration_0004_keeps_audited_uuids_canonical_on_every_database():
    """Back to UUIDField, a row, forward: SQLite's hex is rewritten, PostgreSQL casts."""
    before = ("django_mobile_sync", "0003_throttle_counter")
    after = ("django_mobile_sync", "0004_text_mobile_ids")
    executor = MigrationExecutor(connection)
    try:
        check_migration_0004(executor, before, after)
    finally:  # every later migration back, whatever happened
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def check_migration_0004(executor: Any, before: Any, after: Any) -> None:
    executor.migrate([before])
    old = executor.loader.project_state([before]).apps.get_model(
        "django_mobile_sync", "SyncConflict"
    )
    old.objects.create(
        domain="tasks",
        model="testapp.Task",
        mobile_id=uuid.UUID(UPPER),
        client_version=1,
        server_version=2,
    )
    executor = MigrationExecutor(connection)
    executor.migrate([after])
    assert list(SyncConflict.objects.values_list("mobile_id", flat=True)) == [CANONICAL]
