"""Rate-limit buckets on PostgreSQL are an UNLOGGED table: a bucket is spent on every post and
login, and a logged write made each check wait for a WAL flush (about 4 ms at the median). A
crash empties an unlogged table, which for buckets only means everyone starts with a full one.
SQLite has nothing like it and keeps its table as it is."""

from tortoise import migrations
from tortoise.migrations import operations as ops


def on_postgres(statement: str):
    async def run(apps, schema_editor) -> None:
        client = schema_editor.client
        if client.capabilities.dialect == "postgres":
            await client.execute_script(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [('chat', '0015_rich_text_and_previews')]

    initial = False

    operations = [
        ops.RunPython(
            on_postgres("ALTER TABLE rate_buckets SET UNLOGGED"),
            on_postgres("ALTER TABLE rate_buckets SET LOGGED"),
        )
    ]
