"""The change log (one numbered change per post, edit, deletion or reaction, in commit order
per room), reactions, replies, edit times and room roles.

Every message already stored becomes its own "posted" change numbered with its id: ids were
in commit order per room already, so a tab that resumes after a message id (a page loaded
before this migration) resumes at the right change.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from chat_app.models.changes import ChangeKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

POSTGRES_FORWARD = """
-- As migration 0003 does for message ids: wait for the room's previous change to commit (the
-- room's row lock), then take the number, so numbers become visible in order.
CREATE FUNCTION change_id_in_commit_order() RETURNS trigger AS $$
BEGIN
    PERFORM 1 FROM rooms WHERE id = NEW.room_id FOR UPDATE;
    IF NEW.id IS NULL THEN
        NEW.id := nextval(pg_get_serial_sequence('changes', 'id'));
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER change_id_in_commit_order BEFORE INSERT ON changes
    FOR EACH ROW EXECUTE FUNCTION change_id_in_commit_order();
ALTER TABLE changes ALTER COLUMN id DROP DEFAULT;
"""
POSTGRES_BACKWARD = """
ALTER TABLE changes ALTER COLUMN id SET DEFAULT nextval(pg_get_serial_sequence('changes', 'id'));
DROP TRIGGER change_id_in_commit_order ON changes;
DROP FUNCTION change_id_in_commit_order();
"""
BACKFILL = """
INSERT INTO changes (id, room_id, message_id, kind, created_at)
    SELECT id, room_id, id, 'posted', created_at FROM messages;
"""
POSTGRES_SEQUENCE = """
SELECT setval(pg_get_serial_sequence('changes', 'id'), COALESCE((SELECT max(id) FROM changes), 0) + 1, false);
"""


async def forward(apps, schema_editor) -> None:
    client = schema_editor.client
    await client.execute_script(BACKFILL)
    if client.capabilities.dialect == "postgres":
        await client.execute_script(POSTGRES_SEQUENCE)
        await client.execute_script(POSTGRES_FORWARD)


async def backward(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(POSTGRES_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [('chat', '0004_lookup_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Change',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('room', fields.ForeignKeyField('chat.Room', source_field='room_id', db_constraint=True, to_field='id', related_name='changes', on_delete=OnDelete.CASCADE)),
                ('message_id', fields.BigIntField()),
                ('kind', fields.CharEnumField(description='POSTED: posted\nEDITED: edited\nDELETED: deleted\nREACTED: reacted', enum_type=ChangeKind, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'changes', 'app': 'chat', 'indexes': [Index(fields=['room_id', 'id'])], 'pk_attr': 'id', 'table_description': 'Something happened to message ``message_id`` of ``room``. ``message_id`` is no foreign'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Reaction',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message', fields.ForeignKeyField('chat.Message', source_field='message_id', db_constraint=True, to_field='id', related_name='reactions', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('chat.User', source_field='user_id', db_constraint=True, to_field='id', related_name='reactions', on_delete=OnDelete.CASCADE)),
                ('emoji', fields.CharField(max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'reactions', 'app': 'chat', 'unique_together': (('message', 'user', 'emoji'),), 'pk_attr': 'id', 'table_description': '``user`` reacted to ``message`` with ``emoji``.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Membership',
            name='role',
            field=fields.CharField(default='member', db_default='member', max_length=16),
        ),
        ops.AddField(
            model_name='Message',
            name='edited_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Message',
            name='reply_to_id',
            field=fields.BigIntField(null=True),
        ),
        ops.AddIndex(
            model_name='Message',
            index=Index(fields=['reply_to_id']),
        ),
        ops.RunPython(forward, backward),
    ]
