"""Who sees what (docs/views.md): a worker sees the tasks and work orders assigned to them
and the unassigned ones, and their own punches; a supervisor sees every record of the
tenant. ``manage.py sync_user USERNAME ... --role supervisor`` changes a user's role."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from rest_framework.request import Request

from django_mobile_sync.service import SyncService

from .models import UserProfile


def is_supervisor(user: Any) -> bool:
    """Whether ``user`` sees every record of their tenant (read at every request)."""
    return UserProfile.objects.filter(user_id=user.pk, role=UserProfile.Role.SUPERVISOR).exists()


def users_of_tenant(
    queryset: QuerySet[Any], scope: Mapping[str, Any], request: Request | None
) -> QuerySet[Any]:
    """The users a record of the tenant may name (``assignee``): those of its client and
    business unit; any other username is an ``unknown_reference``."""
    return queryset.filter(profile__client=scope["client"], profile__bu=scope["bu"])


class AttendanceService(SyncService):
    """``attendance``: a punch's author is the user who pushed it."""

    def before_save(self, instance: Any, created: bool) -> None:
        if created and self.user is not None and self.user.is_authenticated:
            instance.author = get_user_model()._default_manager.get(pk=self.user.pk)
