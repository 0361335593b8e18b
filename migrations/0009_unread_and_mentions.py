"""Unread state and mentions: each membership's newest change read, and who a message mentions.

Members of stored rooms start with everything read (their rooms would otherwise all show the
whole history as unread after the upgrade).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

EVERYTHING_READ = """
UPDATE memberships SET last_read_change = COALESCE(
    (SELECT MAX(changes.id) FROM changes WHERE changes.room_id = memberships.room_id), 0);
"""


async def forward(apps, schema_editor) -> None:
    await schema_editor.client.execute_script(EVERYTHING_READ)


async def backward(apps, schema_editor) -> None:
    pass  # the column goes with the AddField's reversal


class Migration(migrations.Migration):
    dependencies = [('chat', '0008_notifications')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Mention',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message', fields.ForeignKeyField('chat.Message', source_field='message_id', db_constraint=True, to_field='id', related_name='mentions', on_delete=OnDelete.CASCADE)),
                ('room', fields.ForeignKeyField('chat.Room', source_field='room_id', db_constraint=True, to_field='id', related_name='mentions', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('chat.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name='mentions', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('chat.User', source_field='author_id', db_constraint=True, to_field='id', related_name='mentions_made', on_delete=OnDelete.CASCADE)),
                ('change', fields.BigIntField()),
            ],
            options={'table': 'mentions', 'app': 'chat', 'indexes': [Index(fields=['room_id', 'change']), Index(fields=['message_id'])], 'pk_attr': 'id', 'table_description': 'Message ``message`` mentions ``user`` (NULL: everyone in the room).'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Membership',
            name='last_read_change',
            field=fields.BigIntField(default=0, db_default=0),
        ),
        ops.RunPython(forward, backward),
    ]
