"""Files and avatars: the attachments table (a row per upload, on a message once sent), how
many files each message carries, and each user's display name and avatar key."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('chat', '0013_integrations')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Attachment',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('room', fields.ForeignKeyField('chat.Room', source_field='room_id', db_constraint=True, to_field='id', related_name='attachments', on_delete=OnDelete.CASCADE)),
                ('uploader', fields.ForeignKeyField('chat.User', source_field='uploader_id', db_constraint=True, to_field='id', related_name='attachments', on_delete=OnDelete.CASCADE)),
                ('message', fields.ForeignKeyField('chat.Message', source_field='message_id', null=True, db_constraint=True, to_field='id', related_name='attachments', on_delete=OnDelete.CASCADE)),
                ('key', fields.CharField(unique=True, max_length=100)),
                ('name', fields.CharField(max_length=255)),
                ('content_type', fields.CharField(max_length=100)),
                ('size', fields.BigIntField()),
                ('width', fields.IntField(null=True)),
                ('height', fields.IntField(null=True)),
                ('thumb_key', fields.CharField(null=True, max_length=100)),
                ('thumb_width', fields.IntField(null=True)),
                ('thumb_height', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'attachments', 'app': 'chat', 'indexes': [Index(fields=['message_id']), Index(fields=['message_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'An uploaded file: by ``uploader`` into ``room``, on ``message`` once it is sent (NULL'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Message',
            name='file_count',
            field=fields.SmallIntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='User',
            name='avatar_key',
            field=fields.CharField(null=True, max_length=100),
        ),
        ops.AddField(
            model_name='User',
            name='display_name',
            field=fields.CharField(null=True, max_length=64),
        ),
    ]
