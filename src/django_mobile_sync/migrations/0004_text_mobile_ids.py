# The audit log records text ids too (docs/clients/watermelondb.md#ids). On SQLite the AlterField keeps the 32 hex
# digits Django stored for the UUIDField; they are rewritten in the canonical hyphenated form
# that the push records and the admin searches. PostgreSQL casts uuid to that form itself.

from django.db import migrations, models

from django_mobile_sync.models import RewriteHexUUIDs


class Migration(migrations.Migration):

    dependencies = [
        ('django_mobile_sync', '0003_throttle_counter'),
    ]

    operations = [
        migrations.AlterField(
            model_name='syncconflict',
            name='mobile_id',
            field=models.CharField(db_index=True, max_length=64),
        ),
        migrations.RunPython(
            RewriteHexUUIDs('django_mobile_sync.SyncConflict'), migrations.RunPython.noop
        ),
    ]
