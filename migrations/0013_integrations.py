from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('chat', '0012_everyone_mentions')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ApiToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('chat.User', source_field='user_id', db_constraint=True, to_field='id', related_name='api_tokens', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=64)),
                ('digest', fields.CharField(unique=True, max_length=64)),
                ('hint', fields.CharField(max_length=16)),
                ('scope', fields.CharField(max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_tokens', 'app': 'chat', 'indexes': [Index(fields=['user_id'])], 'pk_attr': 'id', 'table_description': 'One personal access token of a user. Deleting the row revokes it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Bot',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.OneToOneField('chat.User', source_field='user_id', db_constraint=True, to_field='id', related_name='bot', on_delete=OnDelete.CASCADE)),
                ('created_by', fields.ForeignKeyField('chat.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='bots_made', on_delete=OnDelete.SET_NULL)),
                ('outgoing_url', fields.CharField(default='', db_default='', max_length=2048)),
                ('signing_secret', fields.CharField(max_length=64)),
                ('last_failure', fields.CharField(default='', db_default='', max_length=500)),
                ('last_failure_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'bots', 'app': 'chat', 'pk_attr': 'id', 'table_description': 'What a bot account has besides its user row.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RateBucket',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=255)),
                ('tokens', fields.FloatField()),
                ('updated', fields.FloatField()),
                ('full_at', fields.FloatField()),
            ],
            options={'table': 'rate_buckets', 'app': 'chat', 'indexes': [Index(fields=['full_at'])], 'pk_attr': 'key', 'table_description': 'One token bucket: what is left and when (database clock, seconds since the epoch).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Webhook',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('bot', fields.ForeignKeyField('chat.User', source_field='bot_id', db_constraint=True, to_field='id', related_name='webhooks', on_delete=OnDelete.CASCADE)),
                ('room', fields.ForeignKeyField('chat.Room', source_field='room_id', db_constraint=True, to_field='id', related_name='webhooks', on_delete=OnDelete.CASCADE)),
                ('digest', fields.CharField(unique=True, max_length=64)),
                ('hint', fields.CharField(max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'webhooks', 'app': 'chat', 'indexes': [Index(fields=['bot_id'])], 'pk_attr': 'id', 'table_description': 'An incoming webhook: its secret URL posts to ``room`` as ``bot``. Deleting revokes it.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='User',
            name='is_bot',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
