"""``journal``: the fifth domain, added with a model, a migration and one settings entry.

It is the worked example of docs/adding-a-domain.md; the guide's code blocks are compared
with the project's code at the end of this module.
"""

from __future__ import annotations

import ast
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from django_mobile_sync.domains import get_domain
from django_mobile_sync.models import SyncConflict
from field_ops.models import JournalEntry
from tests.helpers.devices import Device, new_id

PROJECT = Path(__file__).resolve().parent.parent
GUIDE = PROJECT.parent / "docs" / "adding-a-domain.md"


def entry(**fields: Any) -> dict[str, Any]:
    return {
        "mobile_id": new_id(),
        "entry_date": "2025-09-28",
        "title": "Chiller service",
        "body": "Replaced the filter; pressure back to normal.",
        "mood": "GOOD",
        **fields,
    }


def test_push_creates_in_the_users_tenant(alice: Device) -> None:
    sent = entry()
    kind, item = alice.push_one("journal", sent)
    assert (kind, item) == (
        "synced_items",
        {"mobile_id": sent["mobile_id"], "status": "created", "server_version": 1},
    )
    stored = JournalEntry.objects.get(mobile_id=sent["mobile_id"])
    assert (stored.client_id, stored.bu_id) == (
        alice.user.profile.client_id,
        alice.user.profile.bu_id,
    )
    assert (stored.title, stored.mood, str(stored.entry_date)) == (
        "Chiller service",
        "GOOD",
        "2025-09-28",
    )


def test_entry_date_may_not_be_in_the_future(alice: Device) -> None:
    tomorrow = timezone.now().date() + timedelta(days=1)
    kind, item = alice.push_one("journal", entry(entry_date=str(tomorrow)))
    assert (kind, item["status"]) == ("synced_items", "created")  # UTC+14 is there already
    later = tomorrow + timedelta(days=1)
    kind, item = alice.push_one("journal", entry(entry_date=str(later)))
    assert kind == "errors"
    assert item["field_errors"] == {
        "entry_date": [
            f"entry_date {later} is in the future; the latest day you can log is {tomorrow}."
        ]
    }


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"mood": "ECSTATIC"}, "mood"),
        ({"title": ""}, "title"),
        ({"entry_date": None}, "entry_date"),
    ],
)
def test_invalid_entries_are_errors(alice: Device, fields: dict[str, Any], field: str) -> None:
    kind, item = alice.push_one("journal", entry(**fields))
    assert kind == "errors" and list(item["field_errors"]) == [field]
    assert not JournalEntry.objects.exists()


def test_pull_with_date_filter_and_tenancy(alice: Device, bob: Device, gina: Device) -> None:
    old, new = entry(entry_date="2025-01-02"), entry(entry_date="2025-09-28")
    assert alice.push("journal", [old, new]).status_code == 200
    items, _ = bob.pull_all("journal")  # a colleague in the same business unit
    assert {i["mobile_id"] for i in items} == {old["mobile_id"], new["mobile_id"]}
    record = next(i for i in items if i["mobile_id"] == new["mobile_id"])
    assert set(record) == {
        "mobile_id",
        "version",
        "deleted",
        "updated_at",
        "entry_date",
        "title",
        "body",
        "mood",
    }
    items, _ = bob.pull_all("journal", date_from="2025-06-01")
    assert [i["mobile_id"] for i in items] == [new["mobile_id"]]
    assert gina.pull_all("journal")[0] == []  # another client sees nothing


def test_stale_edit_is_a_conflict_with_the_server_record(alice: Device, bob: Device) -> None:
    sent = entry()
    alice.push_one("journal", sent)
    kind, item = bob.push_one(
        "journal", {"mobile_id": sent["mobile_id"], "version": 1, "title": "Chiller serviced"}
    )
    assert (kind, item["server_version"]) == ("synced_items", 2)
    kind, item = alice.push_one(
        "journal", {"mobile_id": sent["mobile_id"], "version": 1, "body": "Filter replaced."}
    )
    assert kind == "conflicts"
    assert (item["server_version"], item["client_version"]) == (2, 1)
    assert item["server_data"]["title"] == "Chiller serviced"
    assert JournalEntry.objects.get(mobile_id=sent["mobile_id"]).body == sent["body"]
    audit = SyncConflict.objects.get(domain="journal")
    assert (audit.resolution, audit.device_id) == ("rejected", "alice-phone")
    # The device adopts the server's version, then its edit goes through.
    kind, item = alice.push_one(
        "journal", {"mobile_id": sent["mobile_id"], "version": 2, "body": "Filter replaced."}
    )
    assert (kind, item["status"], item["server_version"]) == ("synced_items", "updated", 3)


def test_delete_reaches_colleagues(alice: Device, bob: Device) -> None:
    sent = entry()
    alice.push_one("journal", sent)
    kind, item = alice.push_one(
        "journal", {"mobile_id": sent["mobile_id"], "version": 1, "deleted": True}
    )
    assert (kind, item["status"]) == ("synced_items", "deleted")
    record = bob.record("journal", sent["mobile_id"])
    assert record is not None
    assert set(record) == {"mobile_id", "version", "deleted", "updated_at"}
    assert (record["version"], record["deleted"]) == (2, True)


# -- the domain is declarations only, and the guide shows the real code ----------------------


def test_no_view_serializer_url_or_service_code_for_the_journal() -> None:
    for name in ("field_ops/serializers.py", "field_ops/tenancy.py", "example/urls.py"):
        assert "journal" not in (PROJECT / name).read_text(encoding="utf-8").lower(), name
    assert get_domain("journal").serializer is None  # type: ignore[union-attr]
    assert get_domain("journal").service is None  # type: ignore[union-attr]


def guide_block(title: str) -> str:
    text = GUIDE.read_text(encoding="utf-8")
    found = re.findall(rf'^```python title="{re.escape(title)}"\n(.*?)^```$', text, re.M | re.S)
    assert len(found) == 1, f"{GUIDE.name} should have one block titled {title}"
    return str(found[0])


def test_guide_model_is_the_projects_model() -> None:
    source = (PROJECT / "field_ops" / "models.py").read_text(encoding="utf-8")
    shown = ast.parse(guide_block("field_ops/models.py"))
    real = {
        node.name: ast.dump(node)
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef | ast.ClassDef)
    }
    names = []
    for node in shown.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            assert ast.dump(node) == real.get(node.name), f"{node.name} differs from models.py"
            names.append(node.name)
    assert names == ["not_in_the_future", "JournalEntry"]


def test_guide_declaration_is_the_settings_entry() -> None:
    namespace: dict[str, Any] = {}
    exec(guide_block("example/settings.py"), namespace)
    [shown] = namespace["MOBILE_SYNC"]["DOMAINS"]
    real = get_domain("journal")
    assert real is not None
    tenancy = settings.TENANCY
    for option in ("name", "model", "fields", "filters", "resolver", "serializer", "service"):
        assert getattr(shown, option) == getattr(real, option), option
    assert list(shown.tenant_fields) == tenancy["tenant_fields"] == list(real.tenant_fields)
    assert shown.scope == tenancy["scope"] == real.scope


def test_guide_names_the_projects_migration() -> None:
    assert (PROJECT / "field_ops" / "migrations" / "0002_journalentry.py").is_file()
    assert "field_ops/migrations/0002_journalentry.py" in GUIDE.read_text(encoding="utf-8")


def test_guide_answers_have_the_real_shapes(alice: Device, bob: Device) -> None:
    text = GUIDE.read_text(encoding="utf-8")
    shown = [json.loads(b) for b in re.findall(r"^```json\n(.*?)^```$", text, re.M | re.S)]
    sent = entry()
    created = alice.push("journal", [sent]).json()
    page = bob.pull("journal").json()
    bob.push_one("journal", {"mobile_id": sent["mobile_id"], "version": 1, "title": "New"})
    conflict = alice.push(
        "journal", [{"mobile_id": sent["mobile_id"], "version": 1, "body": "x"}]
    ).json()
    push_shown, pull_shown, conflict_shown = shown
    assert set(push_shown) == set(created)
    assert set(push_shown["synced_items"][0]) == set(created["synced_items"][0])
    assert set(pull_shown) == set(page) and set(pull_shown["items"][0]) == set(page["items"][0])
    real = conflict["conflicts"][0]
    assert set(conflict_shown["conflicts"][0]) == set(real)
    assert set(conflict_shown["conflicts"][0]["server_data"]) == set(real["server_data"])
    assert conflict_shown["conflicts"][0]["error_message"] == real["error_message"]
