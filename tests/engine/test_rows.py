"""The fast way a pull reads rows (engine/rows.py): the same items as serialize_record()."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.conf import settings
from django.db.models.query import ModelIterable
from django.db.models.signals import post_init
from rest_framework import serializers

from django_mobile_sync.domains import SyncDomain, as_domain
from django_mobile_sync.engine import RowReader
from django_mobile_sync.records import SyncableModelMixin
from django_mobile_sync.serializers import SyncModelSerializer
from django_mobile_sync.service import SyncService
from tests.helpers.api import declared_domain, new_id, pull, push
from tests.testapp.models import Site, Task

DOMAINS = [as_domain(d).name for d in settings.MOBILE_SYNC["DOMAINS"]]  # type: ignore[arg-type]


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.content
    body = response.json()
    assert not body.get("failed_items") and not body.get("conflicts"), body
    return body


@pytest.fixture
def records(client: Any, org: Any, user: Any) -> None:
    """Rows of every test domain: references set and empty, text and UUID ids, a choice,
    JSON, datetimes, unicode, a tombstone each."""
    task, other = new_id(), new_id()
    due = "2026-01-02T03:04:05.678901Z"
    ok(
        push(
            client,
            [
                {"mobile_id": task, "title": 'Ünïcode ✓ "q"', "priority": 3, "due_at": due},
                {"mobile_id": other, "title": "plain", "status": "todo", "notes": "x\ny"},
            ],
        )
    )
    ok(push(client, [{"mobile_id": other, "version": 1, "status": "doing"}]))
    step = new_id()
    ok(
        push(
            client,
            [
                {"mobile_id": step, "task": task, "label": "one", "done": True},
                {"mobile_id": new_id(), "task": task, "label": "two", "after": step},
            ],
            "checkitems",
        )
    )
    ok(push(client, [{"mobile_id": new_id(), "task": task, "name": "a.pdf"}], "attachments"))
    ok(push(client, [{"mobile_id": new_id(), "task": other, "text": "r"}], "reminders"))
    ok(push(client, [{"mobile_id": new_id(), "name": "red"}], "labels"))
    ok(push(client, [{"mobile_id": new_id(), "text": "a note"}], "notes"))
    ok(push(client, [{"mobile_id": "top", "name": "Top"}], "folders"))
    ok(push(client, [{"mobile_id": "sub", "name": "Sub", "parent": "top"}], "folders"))
    sheet = {"mobile_id": "s-1", "folder": "sub", "task": task, "title": "S"}
    ok(push(client, [sheet, {"mobile_id": "s-2", "folder": "top", "title": "T"}], "sheets"))
    site = Site.objects.create(org=org, name="Plant")
    visits = [
        {"mobile_id": new_id(), "site": site.pk, "assignee": user.pk, "note": "n"},
        {"mobile_id": new_id()},
    ]
    ok(push(client, visits, "visits"))
    gone = new_id()
    ok(push(client, [{"mobile_id": gone, "title": "gone"}]))
    ok(push(client, [{"mobile_id": gone, "version": 1, "deleted": True}]))
    ok(push(client, [{"mobile_id": "s-2", "version": 1, "deleted": True}], "sheets"))


def both_ways(domain: str, org: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every row of ``domain`` in the tenant, read the fast way and the general way."""
    scope = {"org": org} if scoped(domain) else {}
    # routed-notes routes by user: its rows are the notes', read on the default database.
    service = SyncService(domain_of(domain), scope=scope, using="default")
    fast = service.row_reader()
    assert fast.fast, f"{domain} uses the default serializer: it reads the fast way"
    general = RowReader(service)
    queryset = service.get_pull_queryset({}).order_by("change_seq", "pk")
    fast_items = [fast.serialize(row) for row in fast.select(queryset)]
    general_items = [general.serialize(row) for row in general.select(queryset)]
    return fast_items, general_items


def domain_of(name: str) -> SyncDomain:
    return declared_domain(name)


def scoped(name: str) -> bool:
    return bool(domain_of(name).tenant_fields)


@pytest.mark.parametrize("domain", DOMAINS)
def test_fast_rows_are_the_general_items_byte_for_byte(domain, records, org):
    fast, general = both_ways(domain, org)
    assert fast, f"the fixture wrote no row of {domain}"
    assert [json.dumps(i) for i in fast] == [json.dumps(i, default=str) for i in general]
    # Same types, not only the same text: a device reads the JSON the renderer writes.
    assert [list(i) for i in fast] == [list(i) for i in general]


def test_a_page_reads_no_model(client, records, monkeypatch):
    """A pull page of a default domain builds no model and runs no serializer per row."""
    built: list[Any] = []
    iterate, serialize = ModelIterable.__iter__, SyncService.serialize_record

    def models(self: Any) -> Any:
        if issubclass(self.queryset.model, SyncableModelMixin):  # not the scope's lookups
            built.append(self.queryset.model)
        return iterate(self)

    def serialized(self: Any, instance: Any) -> Any:
        built.append(instance)
        return serialize(self, instance)

    monkeypatch.setattr(ModelIterable, "__iter__", models)
    monkeypatch.setattr(SyncService, "serialize_record", serialized)
    items = pull(client).json()["items"]
    assert len(items) == 3 and not built
    feed = pull(client, "checkitems").json()["items"]
    assert len(feed) == 2 and not built


class TitleOnly(SyncModelSerializer):
    shout = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = ["title", "shout"]

    def get_shout(self, task: Task) -> str:
        return task.title.upper()


class Stamped(SyncService):
    def serialize_record(self, instance: Any) -> dict[str, Any]:
        return {**super().serialize_record(instance), "stamped": True}


def test_a_declared_serializer_or_an_overridden_hook_reads_models(client, records, domain_options):
    with domain_options(serializer=f"{__name__}.TitleOnly"):
        assert not SyncService(domain_of("tasks"), scope={}).row_reader().fast
        items = pull(client).json()["items"]
        live = [i for i in items if not i["deleted"]]
        assert live and all(i["shout"] == i["title"].upper() for i in live)
    with domain_options(service=f"{__name__}.Stamped"):
        items = pull(client).json()["items"]
        assert items and all(i["stamped"] for i in items)


def test_a_timestamp_renders_as_the_serializer_renders_it(records, org):
    [fast], [general] = (
        [i for i in items if i.get("title", "").startswith("Ü")]
        for items in both_ways("tasks", org)
    )
    assert fast["due_at"] == general["due_at"] == "2026-01-02T03:04:05.678901Z"
    assert isinstance(datetime.datetime.fromisoformat(fast["updated_at"]), datetime.datetime)


def test_a_model_changed_when_built_is_read_as_models(client, records):
    """A post_init receiver may change what a model holds: the pull builds the models."""

    def shout(sender: Any, instance: Any, **kwargs: Any) -> None:
        instance.title = instance.title.upper()

    post_init.connect(shout, sender=Task)
    try:
        assert not SyncService(domain_of("tasks"), scope={}).row_reader().fast
        live = [i for i in pull(client).json()["items"] if not i["deleted"]]
        assert live and all(i["title"] == i["title"].upper() for i in live)
    finally:
        post_init.disconnect(shout, sender=Task)
    assert SyncService(domain_of("tasks"), scope={}).row_reader().fast


def test_a_model_with_deriving_fields_is_read_as_models(db):
    """A file reference derives wire fields from the model (records/derived.py)."""
    scans = SyncDomain(name="scans", model="testapp.Scan", fields=["task", "file", "title"])
    assert not SyncService(scans, scope={}, using="default").row_reader().fast
