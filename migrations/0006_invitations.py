"""Invitation links (CHAT_REGISTRATION=invite): a selector, the hash of a verifier, a use
count and limit, an expiry, a revocation time and who made it."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('chat', '0005_change_log')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Invitation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('selector', fields.CharField(unique=True, max_length=16)),
                ('verifier_hash', fields.CharField(max_length=64)),
                ('created_by', fields.ForeignKeyField('chat.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='invitations', on_delete=OnDelete.SET_NULL)),
                ('max_uses', fields.IntField()),
                ('uses', fields.IntField(default=0, db_default=0)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'invitations', 'app': 'chat', 'pk_attr': 'id', 'table_description': 'A link that lets up to ``max_uses`` people register until ``expires_at``.'},
            bases=['Model'],
        ),
    ]
