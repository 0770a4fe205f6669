"""A create validated field by field (serializers.field_validator) answers as DRF does."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from django_mobile_sync.serializers import SyncModelSerializer, field_validator
from django_mobile_sync.service import SyncService
from tests.helpers.api import declared_domain, new_id, push
from tests.testapp.models import Task

DUE = "2026-01-02T03:04:05Z"
ENTRIES: dict[str, list[dict[str, Any]]] = {
    "tasks": [
        {"title": "ok", "priority": 2, "status": "todo", "due_at": DUE, "notes": "n"},
        {"title": "only the title"},
        {"title": "read-only ignored", "approved": True, "unknown": 1},
        {"title": "x", "history": [{"a": 1}], "client_updated_at": DUE},
        {},
        {"title": ""},
        {"title": "x" * 300},
        {"title": "x", "status": "nope"},
        {"title": "x", "priority": "high"},
        {"title": "x", "priority": 99},
        {"title": "x", "due_at": "yesterday"},
        {"title": None},
        {"title": ["a"]},
    ],
    "labels": [{"name": "red"}, {"name": 5}, {}],
    "checkitems": [{"label": "l", "task": new_id()}, {"label": "l", "task": "nope"}, {}],
    "folders": [{"name": "f"}, {"name": "f", "parent": "a b"}],
    "visits": [{"note": "n"}, {"site": 10**6}, {"assignee": "x"}],
}


def drf_answer(service: SyncService, data: dict[str, Any]) -> Any:
    """What DRF's own run of the domain's create serializer gives (or its error detail)."""
    serializer = service.get_serializer()
    serializer.initial_data = data
    try:
        return dict(serializer.run_validation(data))
    except ValidationError as exc:
        return ("error", exc.detail)


def library_answer(service: SyncService, data: dict[str, Any]) -> Any:
    try:
        return service.validate_entry(data, None)
    except ValidationError as exc:
        return ("error", exc.detail)


@pytest.mark.parametrize("domain", sorted(ENTRIES))
def test_a_create_validates_as_the_serializer_does(domain, org):
    service = SyncService(declared_domain(domain), scope={"org": org}, using="default")
    assert field_validator(service.get_serializer()) is not None, "the default serializer"
    for data in ENTRIES[domain]:
        assert library_answer(service, dict(data)) == drf_answer(service, dict(data)), data


class Strict(SyncModelSerializer):
    class Meta:
        model = Task
        fields = ["title", "priority"]

    def validate_title(self, value: str) -> str:
        if value == "forbidden":
            raise serializers.ValidationError("Not this title.")
        return value.strip()


class Whole(SyncModelSerializer):
    class Meta:
        model = Task
        fields = ["title", "priority"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("priority") == 0:
            raise serializers.ValidationError("Priority 0 needs a reason.")
        return attrs


@pytest.mark.parametrize("declared", [Strict, Whole])
def test_a_serializer_that_validates_more_runs_whole(declared, client, domain_options):
    assert field_validator(declared()) is None
    with domain_options(serializer=f"{__name__}.{declared.__name__}"):
        entries = [
            {"mobile_id": new_id(), "title": " spaced ", "priority": 1},
            {"mobile_id": new_id(), "title": "forbidden", "priority": 1},
            {"mobile_id": new_id(), "title": "zero", "priority": 0},
        ]
        body = push(client, entries).json()
    assert len(body["synced_items"]) + len(body["errors"]) == 3, body
    failed = {i["mobile_id"]: i for i in body["errors"]}
    assert (entries[1]["mobile_id"] in failed) == (declared is Strict)
    assert (entries[2]["mobile_id"] in failed) == (declared is Whole)
    if declared is Strict:
        assert Task.objects.get(mobile_id=entries[0]["mobile_id"]).title == "spaced"
