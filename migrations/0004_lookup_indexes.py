from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('chat', '0003_message_ids_in_commit_order')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='AuthSession',
            index=Index(fields=['user_id']),
        ),
        ops.AddIndex(
            model_name='LiveSocket',
            index=Index(fields=['node']),
        ),
        ops.AddIndex(
            model_name='Membership',
            index=Index(fields=['room_id']),
        ),
    ]
