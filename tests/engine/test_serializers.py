"""The generated record serializer: a value outside a field's choices names the choices."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rest_framework import serializers

from django_mobile_sync.serializers import SyncModelSerializer, invalid_choice_message
from tests.helpers.api import new_id, push
from tests.testapp.models import Task


def test_a_bad_choice_lists_the_valid_ones(client):
    body = push(client, [{"mobile_id": new_id(), "title": "x", "status": "later"}]).json()
    [error] = body["errors"]
    assert error["field_errors"] == {
        "status": ['"later" is not a valid choice: use one of todo, doing, done.']
    }


def test_choices_with_braces_stay_literal():
    field = serializers.ChoiceField(choices=["{a}", "b}"])
    field.error_messages["invalid_choice"] = invalid_choice_message(field)
    with pytest.raises(serializers.ValidationError) as error:
        field.run_validation("c")
    assert error.value.detail == ['"c" is not a valid choice: use one of {a}, b}.']


def test_every_choice_field_of_a_model_serializer_gets_the_message():
    class TaskSerializer(SyncModelSerializer):
        class Meta:
            model = Task
            fields = ["status", "title"]

    serializer = TaskSerializer(data={"status": 3, "title": "t"})
    assert not serializer.is_valid()
    assert serializer.errors["status"] == [
        '"3" is not a valid choice: use one of todo, doing, done.'
    ]


@pytest.mark.parametrize("text", ["plain", "ünïcode ✓", "lone \ud800 surrogate", "\udfff"])
def test_text_fields_refuse_surrogates_as_drf_does(text):
    """A record serializer's text fields check for surrogates their own way (ASCII in one
    step) with DRF's message and code."""

    class TaskSerializer(SyncModelSerializer):
        class Meta:
            model = Task
            fields = ["title", "notes"]

    try:
        serializers.CharField(max_length=200).run_validation(text)
        expected = None
    except serializers.ValidationError as exc:
        expected = exc.detail
    ours = TaskSerializer(data={"title": text, "notes": text})
    if expected is None:
        assert ours.is_valid(), ours.errors
    else:
        assert not ours.is_valid()
        assert ours.errors["title"] == ours.errors["notes"] == expected
        assert ours.errors["title"][0].code == "surrogate_characters_not_allowed"
    assert any(
        type(v).__name__ == "SurrogateCharactersValidator"
        for v in TaskSerializer().fields["title"].validators
    )


@pytest.mark.parametrize("use_tz", [True, False])
def test_timestamps_follow_use_tz_read_once_per_field(settings, use_tz):
    settings.USE_TZ = use_tz

    class TaskSerializer(SyncModelSerializer):
        class Meta:
            model = Task
            fields = ["due_at"]

    field = TaskSerializer().fields["due_at"]
    for sent in ("2025-10-01T12:00:00+02:00", "2025-10-01T10:00:00"):
        value = field.run_validation(sent)
        assert (value.tzinfo is not None) == use_tz
        assert value.replace(tzinfo=None) == datetime(2025, 10, 1, 10, 0)
    assert field.timezone is (UTC if use_tz else None)
