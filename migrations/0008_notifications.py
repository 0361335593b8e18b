"""Notifications: Web Push subscriptions per user, and a notification level per membership
("all" | "mentions" | "none"; existing memberships get "mentions")."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('chat', '0007_rooms_and_directs')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PushSubscription',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('chat.User', source_field='user_id', db_constraint=True, to_field='id', related_name='push_subscriptions', on_delete=OnDelete.CASCADE)),
                ('endpoint', fields.CharField(unique=True, max_length=1024)),
                ('p256dh', fields.CharField(max_length=128)),
                ('auth', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'push_subscriptions', 'app': 'chat', 'indexes': [Index(fields=['user_id'])], 'pk_attr': 'id', 'table_description': "One browser's push subscription (RFC 8030), made for one user with our VAPID key."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Membership',
            name='notify',
            field=fields.CharField(default='mentions', db_default='mentions', max_length=8),
        ),
    ]
