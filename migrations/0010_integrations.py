from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('chat', '0009_unread_and_mentions')]

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
        ops.AddField(
            model_name='User',
            name='is_bot',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
