"""Domain serializers for the rules a declaration cannot express (named in settings).

Updates are partial: cross-field rules read the stored value of a field the device did not
send with ``self.current(attrs, name)``.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from django_mobile_sync.serializers import SyncModelSerializer

from .models import Attendance, Task, WorkOrder
from .roles import is_supervisor


class AssigneeRule:
    """A worker may assign a record only to themselves or to nobody, or leave its assignee
    as it is; a supervisor may assign it to any user of the tenant (docs/views.md)."""

    instance: Any
    context: dict[str, Any]

    def validate_assignee(self, value: Any) -> Any:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        current = getattr(self.instance, "assignee_id", None)
        name = getattr(value, "username", None)
        if value is None or user is None or name in (user.get_username(), current):
            return value
        if is_supervisor(user):
            return value
        raise serializers.ValidationError(
            "A worker may assign a record only to themselves.", code="not_permitted"
        )


def check_order(
    serializer: SyncModelSerializer, attrs: dict[str, Any], first: str, last: str, *, strict: bool
) -> None:
    """Refuse ``last`` before (or, when ``strict``, at) ``first``; either may be empty."""
    start, end = serializer.current(attrs, first), serializer.current(attrs, last)
    if start is None or end is None:
        return
    if end < start or (strict and end == start):
        relation = "after" if strict else "at or after"
        raise serializers.ValidationError({last: [f"{last} must be {relation} {first}."]})


class TaskSerializer(AssigneeRule, SyncModelSerializer):
    """``activity``: a task expires after it is planned."""

    class Meta:
        model = Task
        fields = [
            "jobdesc",
            "plandatetime",
            "expirydatetime",
            "gracetime",
            "priority",
            "jobstatus",
            "jobtype",
            "latitude",
            "longitude",
            "assignee",
        ]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_order(self, attrs, "plandatetime", "expirydatetime", strict=True)
        return attrs


class WorkOrderSerializer(AssigneeRule, SyncModelSerializer):
    """``work-orders``: scheduled and actual windows do not end before they start."""

    class Meta:
        model = WorkOrder
        fields = [
            "description",
            "status",
            "priority",
            "scheduled_start",
            "scheduled_end",
            "actual_start",
            "actual_end",
            "assignee",
        ]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_order(self, attrs, "scheduled_start", "scheduled_end", strict=False)
        check_order(self, attrs, "actual_start", "actual_end", strict=False)
        return attrs


class AttendanceSerializer(SyncModelSerializer):
    """``attendance``: a punch must fall inside the business unit's geofence, if it has one;
    its ``author`` (a username) is who pushed it."""

    author = serializers.CharField(source="author_id", read_only=True, allow_null=True)

    class Meta:
        model = Attendance
        fields = ["event", "punched_at", "latitude", "longitude", "transport_mode", "author"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        service = self.context.get("service")
        bu = service.scope.get("bu") if service is not None else None
        latitude, longitude = self.current(attrs, "latitude"), self.current(attrs, "longitude")
        if bu is None or not bu.has_geofence or latitude is None or longitude is None:
            return attrs
        distance, radius = bu.distance_from_centre(latitude, longitude), bu.geofence_radius_m
        if distance > radius:
            message = (
                f"The punch at ({latitude}, {longitude}) is {distance:.0f} m from the centre of "
                f"{bu.name}'s geofence; punches must be within {radius} m."
            )
            raise serializers.ValidationError({"geofence": [message]})
        return attrs
