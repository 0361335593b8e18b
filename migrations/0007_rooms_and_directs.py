"""Rooms are open, private or direct, with a topic and their creator; a direct conversation
keeps its members' sorted ids as a unique key (one conversation per set of people).

Rooms stored before this migration become open (the column's default), with no topic and no
known creator; their members stay members with the roles they had.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from chat_app.models.rooms import RoomKind
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('chat', '0006_invitations')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Room',
            name='created_by',
            field=fields.ForeignKeyField('chat.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='rooms_created', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Room',
            name='direct_key',
            field=fields.CharField(null=True, unique=True, max_length=200),
        ),
        ops.AddField(
            model_name='Room',
            name='kind',
            field=fields.CharEnumField(default=RoomKind.OPEN, description='OPEN: open\nPRIVATE: private\nDIRECT: direct', db_default='open', enum_type=RoomKind, max_length=16),
        ),
        ops.AddField(
            model_name='Room',
            name='topic',
            field=fields.CharField(default='', db_default='', max_length=250),
        ),
    ]
