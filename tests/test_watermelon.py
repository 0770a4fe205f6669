"""``{prefix}watermelon/``: WatermelonDB's sync backend protocol (SPEC §9), rule by rule.

These tests map the WatermelonDB tables ``tasks`` and ``checkitems`` to the domains of the
same names (``checkitems.task`` is the column ``task_id``): a state machine, a history
field, references. Their models keep UUID ids, which WatermelonDB apps may use; the
settings' own mapping (``folders``, ``sheets``: text ids) carries WatermelonDB's default
16-character ids.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from django_mobile_sync.domains import get_domain
from django_mobile_sync.purge import purge_tombstones
from django_mobile_sync.watermelon_tables import Table, to_entry, to_raw
from tests.conftest import make_user, new_id, push
from tests.testapp.models import Checkitem, Member, Task

URL = "/api/sync/watermelon/"
TABLES = {"tasks": "tasks", "checkitems": "checkitems"}


@pytest.fixture(autouse=True)
def _uuid_tables() -> Any:
    with override_settings(MOBILE_SYNC={**_settings(), "WATERMELON": TABLES}):
        yield


def pull(api: APIClient, last_pulled_at: Any = None, **params: Any) -> dict[str, Any]:
    response = pull_response(api, last_pulled_at, **params)
    assert response.status_code == 200, response.content
    return response_json(response)


def pull_response(api: APIClient, last_pulled_at: Any = None, **params: Any) -> Any:
    query = {"last_pulled_at": "null" if last_pulled_at is None else last_pulled_at}
    headers = {"X-Device-Id": params.pop("device", "phone-1")}
    return api.get(URL, {**query, **params}, headers=headers)


def response_json(response: Any) -> Any:
    if response.streaming:
        return json.loads(b"".join(response.streaming_content))
    return response.json()


def push_changes(
    api: APIClient,
    last_pulled_at: Any,
    changes: dict[str, Any],
    device: str = "phone-1",
    *,
    wrapped: bool = False,
) -> Any:
    """WatermelonDB's documented push: the changes object itself is the body."""
    query = "" if last_pulled_at is None else f"?last_pulled_at={last_pulled_at}"
    body = {"changes": changes} if wrapped else changes
    return api.post(URL + query, body, format="json", headers={"X-Device-Id": device})


def change_set(created=(), updated=(), deleted=()) -> dict[str, list[Any]]:
    return {"created": list(created), "updated": list(updated), "deleted": list(deleted)}


def ids(records: list[dict[str, Any]]) -> list[str]:
    return sorted(record["id"] for record in records)


# -- pull -----------------------------------------------------------------------------------


def test_a_first_sync_is_every_live_record_as_created_in_one_unpaged_response(client, org):
    live = [new_id() for _ in range(1200)]  # more than MAX_PAGE_SIZE: no paging
    Task.objects.bulk_create(
        [Task(org=org, mobile_id=m, title=f"t{i}") for i, m in enumerate(live)]
    )
    gone = new_id()
    push(client, [{"mobile_id": gone, "title": "gone"}])
    push(client, [{"mobile_id": gone, "version": 1, "deleted": True}])

    response = pull_response(client)
    assert response.streaming and response["Content-Type"] == "application/json"
    body = response_json(response)

    assert set(body) == {"changes", "timestamp"}
    tasks = body["changes"]["tasks"]
    assert ids(tasks["created"]) == sorted(live)
    assert tasks["updated"] == [] and tasks["deleted"] == []  # turbo login: no deleted ids
    assert body["changes"]["checkitems"] == change_set()
    assert type(body["timestamp"]) is int and body["timestamp"] > 0


def test_raw_records_are_columns_by_name_without_status_keys(client):
    task, item = new_id(), new_id()
    push(client, [{"mobile_id": task, "title": "Pump", "priority": 3}])
    push(client, [{"mobile_id": item, "task": task, "label": "valve"}], "checkitems")
    body = pull(client)
    [record] = body["changes"]["tasks"]["created"]
    assert record["id"] == task and record["title"] == "Pump" and record["priority"] == 3
    assert not {"_status", "_changed", "mobile_id", "version", "deleted"} & set(record)
    assert isinstance(record["history"], str)  # a JSON field travels as JSON text (@json)
    assert json.loads(record["history"])[0]["changes"] == {"title": "Pump", "priority": 3}
    [step] = body["changes"]["checkitems"]["created"]
    assert step["task_id"] == task and step["after_id"] is None and "task" not in step


def test_the_timestamp_is_a_change_position_and_an_incremental_pull_starts_there(client):
    first, second = new_id(), new_id()
    push(client, [{"mobile_id": first, "title": "one"}])
    timestamp = pull(client)["timestamp"]
    assert pull(client, timestamp)["changes"]["tasks"] == change_set()
    assert pull(client, timestamp)["timestamp"] == timestamp

    push(client, [{"mobile_id": second, "title": "two"}], client_id="other-phone")
    push(client, [{"mobile_id": first, "version": 1, "title": "one!"}], client_id="other-phone")
    body = pull(client, timestamp)
    tasks = body["changes"]["tasks"]
    assert ids(tasks["created"]) == [second]  # created after the last pull, elsewhere
    assert ids(tasks["updated"]) == [first]
    assert body["timestamp"] > timestamp


def test_deleted_records_come_as_ids_only(client):
    task = new_id()
    push(client, [{"mobile_id": task, "title": "x"}])
    timestamp = pull(client)["timestamp"]
    push(client, [{"mobile_id": task, "version": 1, "deleted": True}])
    tasks = pull(client, timestamp)["changes"]["tasks"]
    assert tasks == change_set(deleted=[task])


def test_records_the_device_pushed_itself_come_back_as_updated(client):
    timestamp = pull(client)["timestamp"]
    elsewhere = pull(client, device="phone-2")["timestamp"]
    mine, theirs = new_id(), new_id()
    pushed = push_changes(
        client, timestamp, {"tasks": change_set(created=[{"id": mine, "title": "mine"}])}
    )
    assert pushed.status_code == 200, pushed.content
    push(client, [{"mobile_id": theirs, "title": "theirs"}], client_id="another-phone")

    tasks = pull(client, timestamp)["changes"]["tasks"]
    assert ids(tasks["updated"]) == [mine]
    assert ids(tasks["created"]) == [theirs]
    # Another device of the same user (its own timestamp) gets both as new records.
    other = pull(client, elsewhere, device="phone-2")["changes"]["tasks"]
    assert ids(other["created"]) == sorted([mine, theirs])


def test_send_created_as_updated_puts_every_record_in_updated(client):
    task = new_id()
    push(client, [{"mobile_id": task, "title": "x"}])
    tasks = pull(client, send_created_as_updated="true")["changes"]["tasks"]
    assert tasks["created"] == [] and ids(tasks["updated"]) == [task]


def test_tenants_never_see_each_other(client, client_for, other_user):
    ours, theirs = new_id(), new_id()
    push(client, [{"mobile_id": ours, "title": "ours"}])
    push(client_for(other_user), [{"mobile_id": theirs, "title": "theirs"}])
    assert ids(pull(client)["changes"]["tasks"]["created"]) == [ours]
    assert ids(pull(client_for(other_user))["changes"]["tasks"]["created"]) == [theirs]


def test_a_pull_costs_a_fixed_number_of_queries(client, org, django_assert_max_num_queries):
    Task.objects.bulk_create([Task(org=org, mobile_id=new_id(), title="t") for _ in range(1100)])
    timestamp = pull(client)["timestamp"]
    Task.objects.filter(org=org).update(title="changed")
    # clock, checkpoint, deleted ids (2 tables), own pushes, purge check, the next position
    # (2 tables), the new checkpoint (3 with the test's savepoint), then 3 chunks of tasks
    # and the empty querysets of the other lists; never one per record.
    with django_assert_max_num_queries(17):
        body = pull(client, timestamp)
    assert len(body["changes"]["tasks"]["updated"]) == 1100


def test_purged_tombstones_turn_an_old_timestamp_into_a_replacement_sync(client):
    kept, gone = new_id(), new_id()
    push(client, [{"mobile_id": kept, "title": "kept"}, {"mobile_id": gone, "title": "gone"}])
    timestamp = pull(client)["timestamp"]
    push(client, [{"mobile_id": gone, "version": 1, "deleted": True}])
    assert purge_tombstones(get_domain("tasks"), retention=timedelta(0)) == 1

    body = pull(client, timestamp)
    assert body["experimentalStrategy"] == "replacement"
    assert ids(body["changes"]["tasks"]["updated"]) == [kept]
    assert body["changes"]["tasks"]["deleted"] == []


def test_a_timestamp_the_server_never_gave_is_a_replacement_sync(client):
    task = new_id()
    push(client, [{"mobile_id": task, "title": "x"}])
    timestamp = pull(client)["timestamp"]
    # e.g. the database was restored from a backup older than the device's last pull
    body = pull(client, timestamp + 1_000_000)
    assert body["experimentalStrategy"] == "replacement"
    assert ids(body["changes"]["tasks"]["updated"]) == [task]
    assert body["timestamp"] > timestamp + 1_000_000


def test_a_migration_sync_sends_new_tables_and_records_with_new_columns_set(client):
    task, plain, item = new_id(), new_id(), new_id()
    push(
        client,
        [{"mobile_id": task, "title": "x", "notes": "n"}, {"mobile_id": plain, "title": "y"}],
    )
    push(client, [{"mobile_id": item, "task": task, "label": "valve"}], "checkitems")
    timestamp = pull(client)["timestamp"]
    migration = {
        "from": 1,
        "tables": ["checkitems", "not_ours"],
        "columns": [{"table": "tasks", "columns": ["notes", "no_such_column"]}],
    }
    body = pull(client, timestamp, migration=json.dumps(migration), schema_version=2)
    assert ids(body["changes"]["checkitems"]["created"]) == [item]
    assert ids(body["changes"]["tasks"]["updated"]) == [task]  # notes set; plain has ""
    assert "not_ours" not in body["changes"]


# -- push -----------------------------------------------------------------------------------


def test_a_push_applies_creates_updates_and_deletes_of_several_tables(client):
    task, old, item = new_id(), new_id(), new_id()
    push(client, [{"mobile_id": old, "title": "old"}])
    timestamp = pull(client)["timestamp"]
    changes = {
        "checkitems": change_set(
            created=[{"id": item, "task_id": task, "label": "l", "done": False, "after_id": ""}]
        ),
        "tasks": change_set(
            created=[{"id": task, "title": "new", "_status": "created", "_changed": "", "x": 1}],
            deleted=[old, new_id()],  # an id the server never had is ignored
        ),
    }
    response = push_changes(client, timestamp, changes)
    assert response.status_code == 200, response.content
    assert response.json() == {"experimentalRejectedIds": {}, "rejected": []}
    assert Checkitem.objects.get(mobile_id=item).task == Task.objects.get(mobile_id=task)
    assert Task.all_objects.get(mobile_id=old).deleted


def test_the_documented_body_the_changes_object_itself_is_applied(client):
    """WatermelonDB's docs: ``body: JSON.stringify(changes)``, sent by fetch as text/plain."""
    task, gone = new_id(), new_id()
    push(client, [{"mobile_id": gone, "title": "gone"}])
    timestamp = pull(client)["timestamp"]
    changes = {
        "tasks": change_set(created=[{"id": task, "title": "documented"}], deleted=[gone]),
        "checkitems": change_set(),
        "local_drafts": change_set(),  # a table the server does not sync, empty
    }
    response = client.post(
        f"{URL}?last_pulled_at={timestamp}",
        json.dumps(changes),
        content_type="text/plain;charset=UTF-8",
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"experimentalRejectedIds": {}, "rejected": []}
    assert Task.objects.get(mobile_id=task).title == "documented"
    assert Task.all_objects.get(mobile_id=gone).deleted


def test_the_wrapped_body_is_still_accepted(client):
    task = new_id()
    timestamp = pull(client)["timestamp"]
    changes = {"tasks": change_set(created=[{"id": task, "title": "wrapped"}])}
    response = push_changes(client, timestamp, changes, wrapped=True)
    assert response.status_code == 200, response.content
    assert Task.objects.get(mobile_id=task).title == "wrapped"


def test_a_table_named_changes_is_a_table_not_the_wrapper(client):
    task = new_id()
    with override_settings(MOBILE_SYNC={**_settings(), "WATERMELON": {"changes": "tasks"}}):
        timestamp = pull(client)["timestamp"]
        changes = {"changes": change_set(created=[{"id": task, "title": "in changes"}])}
        response = push_changes(client, timestamp, changes)
        assert response.status_code == 200, response.content
        assert Task.objects.get(mobile_id=task).title == "in changes"
        # The wrapped form cannot be told from it: {"changes": {"changes": ...}} is refused.
        refused = push_changes(client, timestamp, changes, wrapped=True)
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_envelope"


def test_empty_change_sets_of_tables_the_server_does_not_sync_are_ignored(client):
    timestamp = pull(client)["timestamp"]
    task = new_id()
    changes = {"drafts": change_set(), "tasks": change_set(created=[{"id": task, "title": "x"}])}
    assert push_changes(client, timestamp, changes).status_code == 200
    assert Task.objects.filter(mobile_id=task).exists()


def test_a_created_record_that_exists_is_updated_and_an_updated_one_that_does_not_is_created(
    client,
):
    known, unknown = new_id(), new_id()
    push(client, [{"mobile_id": known, "title": "before"}])
    timestamp = pull(client)["timestamp"]
    changes = {
        "tasks": change_set(
            created=[{"id": known, "title": "after"}],  # a retry whose answer was lost
            updated=[{"id": unknown, "title": "new"}],
        )
    }
    assert push_changes(client, timestamp, changes).status_code == 200
    assert Task.objects.get(mobile_id=known).title == "after"
    assert Task.objects.get(mobile_id=unknown).title == "new"


def test_a_push_with_a_record_changed_since_the_pull_is_refused_whole(client):
    edited, untouched, created = new_id(), new_id(), new_id()
    push(client, [{"mobile_id": edited, "title": "a"}, {"mobile_id": untouched, "title": "b"}])
    timestamp = pull(client)["timestamp"]
    push(client, [{"mobile_id": edited, "version": 1, "title": "server"}])

    changes = {
        "tasks": change_set(
            created=[{"id": created, "title": "new"}],
            updated=[{"id": edited, "title": "device"}, {"id": untouched, "title": "device"}],
        )
    }
    response = push_changes(client, timestamp, changes)
    assert response.status_code == 409
    assert response.json()["code"] == "changed_since_pull"
    assert response.json()["records"] == {"tasks": [edited]}
    assert Task.objects.get(mobile_id=edited).title == "server"  # nothing applied
    assert Task.objects.get(mobile_id=untouched).title == "b"
    assert not Task.objects.filter(mobile_id=created).exists()

    # The device pulls, merges, and pushes again: accepted.
    again = pull(client, timestamp)
    response = push_changes(client, again["timestamp"], changes)
    assert response.status_code == 200
    assert Task.objects.get(mobile_id=edited).title == "device"


def test_the_devices_own_changes_after_the_pull_do_not_refuse_its_push(client):
    task = new_id()
    timestamp = pull(client)["timestamp"]
    elsewhere = pull(client, device="another-phone")["timestamp"]
    created = {"tasks": change_set(created=[{"id": task, "title": "mine"}])}
    assert push_changes(client, timestamp, created).status_code == 200
    # The next sync's pull could not move past the push (a long transaction elsewhere
    # holding the horizon): the device pushes an edit of its own record with that timestamp.
    edited = {"tasks": change_set(updated=[{"id": task, "title": "mine, edited"}])}
    assert push_changes(client, elsewhere, edited, device="another-phone").status_code == 409
    assert push_changes(client, timestamp, edited).status_code == 200
    assert Task.objects.get(mobile_id=task).title == "mine, edited"


def test_a_deletion_of_a_record_changed_since_the_pull_is_refused_too(client):
    task = new_id()
    push(client, [{"mobile_id": task, "title": "a"}])
    timestamp = pull(client)["timestamp"]
    push(client, [{"mobile_id": task, "version": 1, "title": "b"}])
    response = push_changes(client, timestamp, {"tasks": change_set(deleted=[task])})
    assert response.status_code == 409
    assert not Task.all_objects.get(mobile_id=task).deleted


def test_records_refused_one_by_one_are_rejected_ids_and_the_rest_is_applied(client):
    good, bad, orphan = new_id(), new_id(), new_id()
    timestamp = pull(client)["timestamp"]
    changes = {
        "tasks": change_set(
            created=[{"id": good, "title": "ok"}, {"id": bad, "title": "x", "status": "nope"}]
        ),
        "checkitems": change_set(created=[{"id": orphan, "task_id": new_id(), "label": "?"}]),
    }
    response = push_changes(client, timestamp, changes)
    assert response.status_code == 200
    body = response.json()
    assert body["experimentalRejectedIds"] == {"tasks": [bad], "checkitems": [orphan]}
    assert {(r["table"], r["id"]) for r in body["rejected"]} == {
        ("tasks", bad),
        ("checkitems", orphan),
    }
    assert Task.objects.filter(mobile_id=good).exists()
    assert not Task.objects.filter(mobile_id=bad).exists()


def test_a_push_cannot_touch_another_tenants_record(client, client_for, other_user):
    theirs = new_id()
    push(client_for(other_user), [{"mobile_id": theirs, "title": "theirs"}])
    timestamp = pull(client)["timestamp"]
    changes = {"tasks": change_set(updated=[{"id": theirs, "title": "hijacked"}])}
    assert push_changes(client, timestamp, changes).status_code == 200
    assert Task.objects.get(mobile_id=theirs, org__name="Globex").title == "theirs"
    assert Task.objects.get(mobile_id=theirs, org__name="Acme").title == "hijacked"


def test_a_push_is_idempotent_with_an_idempotency_key(client):
    task = new_id()
    timestamp = pull(client)["timestamp"]
    body = {"changes": {"tasks": change_set(created=[{"id": task, "title": "once"}])}}
    headers = {"Idempotency-Key": "wm-push-1"}
    url = f"{URL}?last_pulled_at={timestamp}"
    first = client.post(url, body, format="json", headers=headers)
    Task.objects.filter(mobile_id=task).update(title="changed on the server")
    replay = client.post(url, body, format="json", headers=headers)
    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json()
    assert Task.objects.get(mobile_id=task).title == "changed on the server"


def test_a_refused_push_frees_its_idempotency_key_for_the_retry(client):
    task = new_id()
    push(client, [{"mobile_id": task, "title": "a"}])
    timestamp = pull(client)["timestamp"]
    push(client, [{"mobile_id": task, "version": 1, "title": "server"}])
    body = {"changes": {"tasks": change_set(updated=[{"id": task, "title": "device"}])}}
    headers = {"Idempotency-Key": "wm-push-2"}
    refused = client.post(
        f"{URL}?last_pulled_at={timestamp}", body, format="json", headers=headers
    )
    assert refused.status_code == 409
    again = pull(client, timestamp)["timestamp"]
    retried = client.post(f"{URL}?last_pulled_at={again}", body, format="json", headers=headers)
    assert retried.status_code == 200
    assert Task.objects.get(mobile_id=task).title == "device"


@pytest.mark.parametrize(
    ("query", "body", "code"),
    [
        ("", {"changes": {}}, "invalid_last_pulled_at"),
        ("?last_pulled_at=abc", {"changes": {}}, "invalid_last_pulled_at"),
        ("?last_pulled_at=-4", {"changes": {}}, "invalid_last_pulled_at"),
        ("?last_pulled_at=5", [change_set()], "invalid_envelope"),
        ("?last_pulled_at=5", {"tasks": []}, "invalid_envelope"),
        ("?last_pulled_at=5", {"changes": []}, "invalid_envelope"),
        ("?last_pulled_at=5", {"tasks": {"created": [1]}}, "invalid_envelope"),
        ("?last_pulled_at=5", {"nope": change_set(deleted=["x"])}, "unknown_table"),
        ("?last_pulled_at=5", {"changes": {"nope": change_set(deleted=["x"])}}, "unknown_table"),
        ("?last_pulled_at=5", {"changes": {"tasks": {"created": {}}}}, "invalid_envelope"),
        ("?last_pulled_at=5", {"changes": {"tasks": {"created": [1]}}}, "invalid_envelope"),
        ("?last_pulled_at=5", {"changes": {"tasks": {"deleted": [{}]}}}, "invalid_envelope"),
        ("?last_pulled_at=5", {"changes": {"tasks": {"renamed": []}}}, "invalid_envelope"),
    ],
)
def test_a_malformed_push_is_a_json_400(client, query, body, code):
    response = client.post(URL + query, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert Task.objects.count() == 0


def test_a_push_above_the_record_limit_is_a_400_naming_it(client):
    changes = {"tasks": change_set(deleted=[new_id() for _ in range(3)])}
    with override_settings(MOBILE_SYNC={**_settings(), "WATERMELON_MAX_PUSH_RECORDS": 2}):
        response = push_changes(client, 5, changes)
    assert response.status_code == 400
    assert "WATERMELON_MAX_PUSH_RECORDS" in response.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [
        {"last_pulled_at": "yesterday"},
        {"last_pulled_at": str(2**60)},
        {"migration": "{not json"},
        {"migration": json.dumps({"from": "one"})},
        {"migration": json.dumps({"from": 1, "columns": [{"table": "tasks"}]})},
    ],
)
def test_a_malformed_pull_is_a_json_400(client, params):
    response = client.get(URL, params)
    assert response.status_code == 400, response.content
    assert response.json()["code"] in ("invalid_last_pulled_at", "invalid_migration")


def test_it_needs_authentication(db):
    response = APIClient().get(URL, {"last_pulled_at": "null"})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_without_tables_it_answers_a_json_404(client):
    with override_settings(MOBILE_SYNC={**_settings(), "WATERMELON": {}}):
        response = client.get(URL)
    assert response.status_code == 404
    assert response.json()["code"] == "watermelon_not_configured"


def test_the_url_without_its_slash_says_so(client):
    response = client.post(URL.rstrip("/"), {}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "missing_trailing_slash"


def test_pull_and_push_are_throttled_like_the_native_endpoints(db, org):
    api = APIClient()
    api.force_authenticate(make_user("throttled", org))
    rates = {"user": "1/hour", "device": None, "pull_user": "1/hour", "pull_device": None}
    with override_settings(MOBILE_SYNC={**_settings(), "THROTTLE_RATES": rates}):
        assert pull_response(api).status_code == 200
        assert pull_response(api).status_code == 429
        assert push_changes(api, 5, {}).status_code == 200
        assert push_changes(api, 5, {}).status_code == 429


# -- checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"tasks": "no-such-domain"}, "there is no domain named 'no-such-domain'"),
        ({"bad name": "tasks"}, "is not a WatermelonDB table name"),
    ],
)
def test_the_mapping_is_checked_at_start_up(mapping, message):
    from django.core.management.base import SystemCheckError

    with (
        override_settings(MOBILE_SYNC={**_settings(), "WATERMELON": mapping}),
        pytest.raises(SystemCheckError, match="E020") as raised,
    ):
        call_command("check")
    assert message in str(raised.value)


def _settings() -> dict[str, Any]:
    from django.conf import settings

    return dict(settings.MOBILE_SYNC)


def test_a_schema_version_below_a_tables_minimum_is_refused_with_426(client, domain_options):
    with domain_options("checkitems", min_client_schema_version=3):
        refused = pull_response(client, schema_version=2)
        accepted = pull_response(client, schema_version=3)
        pushed = client.post(
            f"{URL}?last_pulled_at=5",
            {"changes": {}},
            format="json",
            headers={"X-Client-Schema-Version": "1"},
        )
    assert refused.status_code == 426
    assert refused.json() == {
        "detail": refused.json()["detail"],
        "code": "upgrade_required",
        "minimum_schema_version": 3,
    }
    assert accepted.status_code == 200
    assert pushed.status_code == 426


def test_deleted_at_is_not_a_column(client):
    task = new_id()
    push(client, [{"mobile_id": task, "title": "x"}])
    Task.all_objects.filter(mobile_id=task).update(deleted_at=timezone.now())
    [record] = pull(client)["changes"]["tasks"]["created"]
    assert "deleted_at" not in record and "updated_at" not in record


# -- the timestamp's state: epoch, scope, tables ------------------------------------------------


def test_a_sync_reset_turns_an_old_timestamp_into_a_replacement_sync(client):
    task = new_id()
    push(client, [{"mobile_id": task, "title": "x"}])
    timestamp = pull(client)["timestamp"]
    call_command("sync_reset", stdout=io.StringIO())
    body = pull(client, timestamp)
    assert body["experimentalStrategy"] == "replacement"
    assert ids(body["changes"]["tasks"]["updated"]) == [task]
    refused = push_changes(
        client, timestamp, {"tasks": change_set(updated=[{"id": task, "title": "y"}])}
    )
    assert refused.status_code == 409  # the device pulls (a replacement), then pushes
    assert Task.objects.get(mobile_id=task).title == "x"


def test_a_user_moved_to_another_tenant_gets_a_replacement_sync(client, user, other_org):
    ours = new_id()
    push(client, [{"mobile_id": ours, "title": "ours"}])
    timestamp = pull(client)["timestamp"]
    theirs = Task.objects.create(org=other_org, mobile_id=new_id(), title="theirs")
    member = Member.objects.get(user=user)
    member.org = other_org
    member.save()
    client.force_authenticate(User.objects.get(pk=user.pk))  # a new request's user

    body = pull(client, timestamp)
    assert body["experimentalStrategy"] == "replacement"
    assert ids(body["changes"]["tasks"]["updated"]) == [str(theirs.mobile_id)]


def test_a_newly_mapped_table_gets_a_replacement_sync(client):
    item, task = new_id(), new_id()
    push(client, [{"mobile_id": task, "title": "x"}])
    push(client, [{"mobile_id": item, "task": task, "label": "l"}], "checkitems")
    with override_settings(MOBILE_SYNC={**_settings(), "WATERMELON": {"tasks": "tasks"}}):
        timestamp = pull(client)["timestamp"]
    body = pull(client, timestamp)  # the server now maps checkitems too
    assert body["experimentalStrategy"] == "replacement"
    assert ids(body["changes"]["checkitems"]["updated"]) == [item]


def test_a_user_who_may_use_no_table_is_refused_with_403(client, domain_options):
    from rest_framework.permissions import IsAdminUser

    with (
        domain_options("tasks", permission_classes=[IsAdminUser]),
        domain_options("checkitems", permission_classes=[IsAdminUser]),
    ):
        response = pull_response(client)
    assert response.status_code == 403


# -- hostile input ------------------------------------------------------------------------------


def test_a_deeply_nested_migration_is_a_400(client):
    response = client.get(URL, {"last_pulled_at": "5", "migration": "[" * 5000})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_migration"


def test_a_record_both_created_and_deleted_is_rejected_not_lost(client):
    task = new_id()
    timestamp = pull(client)["timestamp"]
    changes = {"tasks": change_set(created=[{"id": task, "title": "x"}], deleted=[task])}
    body = push_changes(client, timestamp, changes).json()
    assert body["experimentalRejectedIds"] == {"tasks": [task]}
    assert Task.objects.filter(mobile_id=task).exists()  # the create was applied


def test_deleted_ids_no_record_can_have_are_ignored(client):
    timestamp = pull(client)["timestamp"]
    changes = {"tasks": change_set(deleted=["not a uuid", "x" * 300])}
    assert push_changes(client, timestamp, changes).json()["experimentalRejectedIds"] == {}


def test_json_fields_travel_as_json_text_whatever_they_hold():
    domain = get_domain("tasks")
    table = Table(
        "tasks",
        domain,
        columns={"history": "history"},
        readable={"history": "history"},
        json_fields=frozenset({"history"}),
    )
    for value in (5, "text", [1, {"a": None}], True, {"nested": ["x"]}):
        raw = to_raw(table, {"mobile_id": "a", "history": value})
        assert isinstance(raw["history"], str)
        assert to_entry(table, raw)["history"] == value
    assert to_raw(table, {"mobile_id": "a", "history": None})["history"] is None
    assert to_entry(table, {"id": "a", "history": ""})["history"] is None
