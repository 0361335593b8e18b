"""Rich text and link previews: each message's rendered HTML beside its Markdown (stored
messages are rendered here, a batch at a time), link previews cached per URL and attached to
messages, and the "previewed" change."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from chat_app.models.changes import ChangeKind
from chat_app.richtext import render
from tortoise.fields.base import OnDelete
from tortoise import fields

BATCH = 500


async def render_stored(apps, schema_editor) -> None:
    """Render every stored message's Markdown once, by keyset on id (bounded memory)."""
    client = schema_editor.client
    mark = "$1" if client.capabilities.dialect == "postgres" else "?"
    update = "UPDATE messages SET content_html = {} WHERE id = {}".format(
        *(("$1", "$2") if mark == "$1" else ("?", "?"))
    )
    last = 0
    while True:
        _, rows = await client.execute_query(
            f"SELECT id, content FROM messages WHERE id > {mark} ORDER BY id LIMIT {BATCH}", [last]
        )
        if not rows:
            return
        await client.execute_many(update, [[render(row["content"]), row["id"]] for row in rows])
        last = rows[-1]["id"]


async def unrendered(apps, schema_editor) -> None:
    pass  # the column goes with the AddField's reversal


class AlterFieldState(ops.AlterField):
    """Only the kind's description (the list of ChangeKind values) changes: nothing to do to
    the table, which an AlterField would rebuild on SQLite (losing its index)."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return None

    async def database_backward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [('chat', '0014_files_and_avatars')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LinkPreview',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('url', fields.CharField(unique=True, max_length=2048)),
                ('title', fields.CharField(default='', max_length=200)),
                ('description', fields.CharField(default='', max_length=400)),
                ('site_name', fields.CharField(default='', max_length=100)),
                ('fetched_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'link_previews', 'app': 'chat', 'pk_attr': 'id', 'table_description': 'What fetching ``url`` found, kept as the cache for every message linking to it. A'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MessagePreview',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message', fields.OneToOneField('chat.Message', source_field='message_id', db_constraint=True, to_field='id', related_name='attached_preview', on_delete=OnDelete.CASCADE)),
                ('preview', fields.ForeignKeyField('chat.LinkPreview', source_field='preview_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'message_previews', 'app': 'chat', 'pk_attr': 'id', 'table_description': 'Message ``message`` shows the preview of its first link.'},
            bases=['Model'],
        ),
        AlterFieldState(
            model_name='Change',
            name='kind',
            field=fields.CharEnumField(description='POSTED: posted\nEDITED: edited\nDELETED: deleted\nREACTED: reacted\nPREVIEWED: previewed', enum_type=ChangeKind, max_length=16),
        ),
        ops.AddField(
            model_name='Message',
            name='content_html',
            field=fields.TextField(db_default='', unique=False),
        ),
        ops.RunPython(render_stored, unrendered),
    ]
