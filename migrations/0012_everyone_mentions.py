"""Rooms choose whose @everyone notifies the whole room (admins by default)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('chat', '0011_search')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Room',
            name='everyone_mentions',
            field=fields.CharField(default='admins', db_default='admins', max_length=8),
        ),
    ]
