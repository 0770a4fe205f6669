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
    approved = models.BooleanField(default=False)
    history = models.JSONField(default=list, blank=True)
    client_updated_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "mobile_id"], name="testapp_task_org_mobile_id")
        ]
        indexes = [models.Index(fields=["org", "change_seq", "id"], name="testapp_task_pull")]

    def __str__(self) -> str:
        return self.title


class Note(SyncableModelMixin):
    text = models.CharField(max_length=500)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mobile_id"], name="testapp_note_mobile_id")
        ]

    def __str__(self) -> str:
        return self.text
