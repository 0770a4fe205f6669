"""The seed-style per-item push view of the example's ``activity`` tasks, for the push load
run (``benchmarks/creates_load.py``), and the URLs it is served at beside the example's.

``for entry: get by mobile_id (locked); ModelSerializer.is_valid(); save()`` in one
transaction: what a team writes without the library. Plain DRF: the project's
authentication and ``IsAuthenticated``, DRF's JSON parser and renderer; the record's
``save()`` stamps its version and change cursor one row at a time.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.urls import path
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from example.urls import urlpatterns as example_urls
from field_ops.models import Task
from field_ops.tenancy import user_scope

FIELDS = [
    "jobdesc",
    "plandatetime",
    "expirydatetime",
    "gracetime",
    "priority",
    "jobstatus",
    "jobtype",
    "latitude",
    "longitude",
]


class TaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = Task
        fields = FIELDS


class PerItemPushView(APIView):
    permission_classes = [IsAuthenticated]

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        scope = user_scope(request)
        synced: list[dict[str, Any]] = []
        conflicts: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        with transaction.atomic():
            for raw in request.data["entries"]:
                mobile_id = str(raw["mobile_id"])
                version = raw.get("version") or 0
                data = {k: v for k, v in raw.items() if k not in ("mobile_id", "version")}
                instance = (
                    Task.all_objects.select_for_update()
                    .filter(**scope, mobile_id=mobile_id)
                    .first()
                )
                if instance is not None and version < instance.version:
                    conflicts.append({"mobile_id": mobile_id, "status": "conflict"})
                    continue
                serializer = TaskSerializer(instance, data=data, partial=instance is not None)
                if not serializer.is_valid():
                    errors.append(
                        {"mobile_id": mobile_id, "status": "error", "errors": serializer.errors}
                    )
                    continue
                if instance is None:
                    saved, status = serializer.save(**scope, mobile_id=mobile_id), "created"
                else:
                    saved, status = serializer.save(), "updated"
                synced.append(
                    {"mobile_id": mobile_id, "status": status, "server_version": saved.version}
                )
        return Response({"synced_items": synced, "conflicts": conflicts, "errors": errors})


urlpatterns = [*example_urls, path("baseline/activity/sync/", PerItemPushView.as_view())]
