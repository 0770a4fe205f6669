"""The per-item baseline: the loop of the original in-house sync layer, written down.

``for entry: get by mobile_id; serializer.is_valid(); save()`` in one transaction, with the
same answers as the library for the benchmarked cases (created, updated, stale -> conflict,
invalid -> error). It stands for what a team writes without the library, so it uses a plain
``ModelSerializer`` built per entry and the model's ``save()`` (which stamps the change
cursor, one row at a time).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone
from rest_framework import serializers
from rest_framework.response import Response

from django_mobile_sync.views import SyncAPIView

from .models import Task


class TaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = Task
        fields = ["title", "status", "priority", "notes", "due_at"]


def per_item_push(entries: list[dict[str, Any]], org: Any, user: Any, device: str) -> dict:
    synced: list[dict[str, Any]] = []
    conflicts: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    with transaction.atomic():
        for raw in entries:
            mobile_id = uuid.UUID(raw["mobile_id"])
            version = raw.get("version") or 0
            data = {k: v for k, v in raw.items() if k not in ("mobile_id", "version")}
            instance = (
                Task.all_objects.select_for_update().filter(org=org, mobile_id=mobile_id).first()
            )
            if instance is not None and version < instance.version:
                conflicts.append(
                    {
                        "mobile_id": str(mobile_id),
                        "status": "conflict",
                        "server_version": instance.version,
                        "client_version": version,
                        "server_data": TaskSerializer(instance).data,
                    }
                )
                continue
            serializer = TaskSerializer(instance, data=data, partial=instance is not None)
            if not serializer.is_valid():
                errors.append(
                    {"mobile_id": str(mobile_id), "status": "error", "errors": serializer.errors}
                )
                continue
            # The same history entry as the library's: the values changed, JSON-safe.
            history = list(instance.history) if instance is not None else []
            history.append(
                {
                    "at": timezone.now().isoformat(),
                    "version": instance.version + 1 if instance is not None else 1,
                    "user": str(user.pk),
                    "device": device,
                    "changes": json.loads(json.dumps(serializer.validated_data, default=str)),
                }
            )
            if instance is None:
                saved = serializer.save(org=org, mobile_id=mobile_id, history=history)
                status = "created"
            else:
                saved = serializer.save(history=history)
                status = "updated"
            synced.append(
                {"mobile_id": str(mobile_id), "status": status, "server_version": saved.version}
            )
    return {
        "synced_items": synced,
        "conflicts": conflicts,
        "errors": errors,
        "timestamp": timezone.now().isoformat(),
    }


class PerItemPushView(SyncAPIView):
    """The baseline behind the library's HTTP stack (parser, authentication, permissions,
    throttles and exception handler of the sync views)."""

    domain_name = "tasks"

    def post(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        self.get_domain()
        device = request.headers.get("X-Device-Id") or request.data.get("client_id", "")
        result = per_item_push(
            request.data["entries"], request.user.member.org, request.user, device
        )
        return Response(result)
