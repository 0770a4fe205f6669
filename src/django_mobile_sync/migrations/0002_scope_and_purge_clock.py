"""The tenant of each audit row (re-apply writes only within it) and the change clock value of
each tombstone purge (the pull's purge check, docs/cursor.md)."""

from typing import Any

from django.db import migrations, models
from django.db.models import F


def purges_before_the_clock(apps: Any, schema_editor: Any) -> None:
    """Purges made before this migration: checked by every cursor older than their horizon."""
    purges = apps.get_model("django_mobile_sync", "TombstonePurge")
    purges.objects.using(schema_editor.connection.alias).update(seq=F("horizon_seq"))


class Migration(migrations.Migration):
    dependencies = [
        ("django_mobile_sync", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="syncconflict",
            name="scope",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="The record's tenant: its tenant fields' values (primary keys).",
            ),
        ),
        migrations.AddField(
            model_name="tombstonepurge",
            name="seq",
            field=models.BigIntegerField(
                default=0, help_text="Change clock value of the purge (see docs/cursor.md)."
            ),
        ),
        migrations.RunPython(purges_before_the_clock, migrations.RunPython.noop),
    ]
