"""Your data: "Export my data" jobs (data_exports), and indexes that find one person's
messages and reactions in order (their export and their account's deletion)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from chat_app.models.data_exports import ExportState
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('chat', '0009_unread_and_mentions')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DataExport',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('chat.User', source_field='user_id', db_constraint=True, to_field='id', related_name='data_exports', on_delete=OnDelete.CASCADE)),
                ('state', fields.CharEnumField(default=ExportState.RUNNING, description='RUNNING: running\nREADY: ready\nFAILED: failed', enum_type=ExportState, max_length=16)),
                ('done', fields.IntField(default=0)),
                ('total', fields.IntField(default=0)),
                ('file_name', fields.CharField(default='', max_length=100)),
                ('size', fields.BigIntField(default=0)),
                ('error', fields.CharField(default='', max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'data_exports', 'app': 'chat', 'indexes': [Index(fields=['user_id'])], 'pk_attr': 'id', 'table_description': "One ZIP of a user's data, and how far its build is."},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='Message',
            index=Index(fields=['author_id', 'id']),
        ),
        ops.AddIndex(
            model_name='Reaction',
            index=Index(fields=['user_id', 'id']),
        ),
    ]
