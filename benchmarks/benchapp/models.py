"""The benchmarked model: a tenant-scoped task with a state machine and a history field.

Its migration is in benchmarks/benchapp/migrations; the benchmarks migrate a fresh database.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from django_mobile_sync.models import SyncableModelMixin


class Org(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Member(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="member"
    )
    org = models.ForeignKey(Org, on_delete=models.CASCADE)

    def __str__(self) -> str:
        return f"{self.user} in {self.org}"


class Task(SyncableModelMixin):
    STATUSES = [("todo", "To do"), ("doing", "Doing"), ("done", "Done")]

    org = models.ForeignKey(Org, on_delete=models.PROTECT)
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=STATUSES, default="todo")
    priority = models.IntegerField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(5)]
    )
    notes = models.TextField(blank=True, default="")
    due_at = models.DateTimeField(null=True, blank=True)
    history = models.JSONField(default=list, blank=True)
    # The view key of the views benchmark (``jobs``): a username, or null.
    assignee = models.CharField(max_length=150, null=True, blank=True)  # noqa: DJ001

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "mobile_id"], name="benchapp_task_org_mid")
        ]
        # The index the docs recommend for pulls: tenant fields, then the change order; and
        # a view's: tenant fields, the view key, then the change order (docs/views.md).
        indexes = [
            models.Index(fields=["org", "change_seq", "id"], name="benchapp_task_pull"),
            models.Index(
                fields=["org", "assignee", "change_seq", "id"], name="benchapp_task_view"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Step(SyncableModelMixin):
    """A checklist step of a task: the child domain of the multi-domain benchmark."""

    org = models.ForeignKey(Org, on_delete=models.PROTECT)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="steps")
    label = models.CharField(max_length=200)
    done = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "mobile_id"], name="benchapp_step_org_mid")
        ]
        indexes = [models.Index(fields=["org", "change_seq", "id"], name="benchapp_step_pull")]

    def __str__(self) -> str:
        return self.label


class Visit(SyncableModelMixin):
    """A site visit: the third domain of the multi-domain benchmark (no relation)."""

    org = models.ForeignKey(Org, on_delete=models.PROTECT)
    site = models.CharField(max_length=200)
    note = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "mobile_id"], name="benchapp_visit_org_mid")
        ]
        indexes = [models.Index(fields=["org", "change_seq", "id"], name="benchapp_visit_pull")]

    def __str__(self) -> str:
        return self.site
