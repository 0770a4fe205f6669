"""The generated record serializer: a value outside a field's choices names the choices."""

from __future__ import annotations

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
