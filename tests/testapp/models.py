from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from django_mobile_sync.files.fields import FileReferenceField
from django_mobile_sync.models import SyncableModelMixin, TextMobileIdField


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


def org_constraint(name: str) -> list[models.BaseConstraint]:
    return [models.UniqueConstraint(fields=["org", "mobile_id"], name=f"testapp_{name}_mobile_id")]


def pull_index(name: str) -> list[models.Index]:
    return [models.Index(fields=["org", "change_seq", "id"], name=f"testapp_{name}_pull")]


class Checkitem(SyncableModelMixin):
    """A step of a task: deleted with it (CASCADE); may come after another step."""

    org = models.ForeignKey(Org, on_delete=models.PROTECT)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="checkitems")
    label = models.CharField(max_length=200)
    done = models.BooleanField(default=False)
    after = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = org_constraint("checkitem")
        indexes = pull_index("checkitem")

    def __str__(self) -> str:
        return self.label


class Attachment(SyncableModelMixin):
    """A file of a task: keeps the task from being deleted (PROTECT)."""

    org = models.ForeignKey(Org, on_delete=models.PROTECT)
    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="attachments")
    name = models.CharField(max_length=200)

    class Meta:
        constraints = org_constraint("attachment")
        indexes = pull_index("attachment")

    def __str__(self) -> str:
        return self.name


class Reminder(SyncableModelMixin):
    """A reminder, about a task or not: outlives its task (SET_NULL)."""

    org = models.ForeignKey(Org, on_delete=models.PROTECT)
    task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="reminders"
    )
    text = models.CharField(max_length=200)

    class Meta:
        constraints = org_constraint("reminder")
        indexes = pull_index("reminder")

    def __str__(self) -> str:
        return self.text


class Label(SyncableModelMixin):
    """A label of an org, not synced to a parent: its org may cascade into it."""

    org = models.ForeignKey(Org, on_delete=models.CASCADE)
    owner = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=100)

    class Meta:
        constraints = org_constraint("label")
        indexes = pull_index("label")

    def __str__(self) -> str:
        return self.name


class Folder(SyncableModelMixin):
    """Text ids (WatermelonDB's): a folder of an org, maybe inside another folder."""

    mobile_id = TextMobileIdField()
    org = models.ForeignKey(Org, on_delete=models.PROTECT)
    name = models.CharField(max_length=200)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = org_constraint("folder")
        indexes = pull_index("folder")

    def __str__(self) -> str:
        return self.name


class Sheet(SyncableModelMixin):
    """Text ids: a sheet of a folder (CASCADE), maybe about a task (UUID ids)."""

    mobile_id = TextMobileIdField()
    org = models.ForeignKey(Org, on_delete=models.PROTECT)
    folder = models.ForeignKey(Folder, on_delete=models.CASCADE, related_name="sheets")
    task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=200)

    class Meta:
        constraints = org_constraint("sheet")
        indexes = pull_index("sheet")

    def __str__(self) -> str:
        return self.title


class Site(models.Model):
    """A place of an org. Not synced: records name it by primary key."""

    org = models.ForeignKey(Org, on_delete=models.CASCADE)
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Visit(SyncableModelMixin):
    """A visit to a site of the org by a user of the org: foreign keys to models that are not
    synced, scoped by the shared tenant field (``site``) and by a callable (``assignee``)."""

    org = models.ForeignKey(Org, on_delete=models.PROTECT)
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.SET_NULL, related_name="visits"
    )
    assignee = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        constraints = org_constraint("visit")
        indexes = pull_index("visit")

    def __str__(self) -> str:
        return self.note or f"visit {self.mobile_id}"


class VisitStep(SyncableModelMixin):
    """A step of a visit (CASCADE): seen by whoever sees its visit (docs/views.md)."""

    org = models.ForeignKey(Org, on_delete=models.PROTECT)
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="steps")
    label = models.CharField(max_length=200)

    class Meta:
        constraints = org_constraint("visitstep")
        indexes = pull_index("visitstep")

    def __str__(self) -> str:
        return self.label


class Signoff(SyncableModelMixin):
    """A sign-off of a task's step: keeps the step, and so its task, from being deleted
    (PROTECT under a CASCADE)."""

    org = models.ForeignKey(Org, on_delete=models.PROTECT)
    checkitem = models.ForeignKey(Checkitem, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = org_constraint("signoff")
        indexes = pull_index("signoff")


class Scan(SyncableModelMixin):
    """A scanned page of a task (docs/files.md): its bytes are a file, referenced by digest."""

    org = models.ForeignKey(Org, on_delete=models.PROTECT)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="scans")
    file = FileReferenceField()
    title = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        constraints = org_constraint("scan")
        indexes = pull_index("scan")

    def __str__(self) -> str:
        return self.title or self.file
