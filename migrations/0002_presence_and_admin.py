from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('chat', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LiveSocket',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=36)),
                ('user', fields.ForeignKeyField('chat.User', source_field='user_id', db_constraint=True, to_field='id', related_name='live_sockets', on_delete=OnDelete.CASCADE)),
                ('room', fields.ForeignKeyField('chat.Room', source_field='room_id', db_constraint=True, to_field='id', related_name='live_sockets', on_delete=OnDelete.CASCADE)),
                ('node', fields.CharField(max_length=64)),
                ('opened_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('seen_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'live_sockets', 'app': 'chat', 'pk_attr': 'id', 'table_description': 'An open websocket on some node. A row whose heartbeat stops is swept as dead.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='UserPresence',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.OneToOneField('chat.User', source_field='user_id', db_constraint=True, to_field='id', related_name='presence', on_delete=OnDelete.CASCADE)),
                ('is_online', fields.BooleanField(default=False)),
                ('status', fields.CharField(default='online', max_length=16)),
                ('last_seen', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'user_presence', 'app': 'chat', 'pk_attr': 'id', 'table_description': 'Whether a user is online, their chosen status, and when they were last seen.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Room',
            name='archived_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='User',
            name='is_admin',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
