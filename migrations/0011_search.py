"""Search: an index of every message's text that finds words in any language, partial words
and CJK, kept in step with the messages table in the same transaction (docs/search.md).

SQLite: an FTS5 table with the trigram tokenizer over ``messages.content`` (external content:
the text is stored once, in ``messages``), maintained by triggers on insert, edit and delete.
PostgreSQL: ``pg_trgm``'s GIN index on ``messages.content``, which ``ILIKE`` uses; PostgreSQL
maintains an index in the writing transaction itself.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

SQLITE_FORWARD = """
CREATE VIRTUAL TABLE message_search USING fts5(
    content, content='messages', content_rowid='id', tokenize='trigram'
);
CREATE TRIGGER message_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_search (rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER message_search_delete AFTER DELETE ON messages BEGIN
    INSERT INTO message_search (message_search, rowid, content)
        VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER message_search_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO message_search (message_search, rowid, content)
        VALUES ('delete', old.id, old.content);
    INSERT INTO message_search (rowid, content) VALUES (new.id, new.content);
END;
INSERT INTO message_search (message_search) VALUES ('rebuild');
"""
SQLITE_BACKWARD = """
DROP TRIGGER message_search_update;
DROP TRIGGER message_search_delete;
DROP TRIGGER message_search_insert;
DROP TABLE message_search;
"""
POSTGRES_FORWARD = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX messages_content_trgm ON messages USING gin (content gin_trgm_ops);
-- The planner estimates how many messages contain a word from a sample of the column's values:
-- with the default 100 it took a word in 1 % of a million messages for one in 10,000 and read
-- its whole bitmap (174 ms) instead of walking the newest messages (14 ms).
ALTER TABLE messages ALTER COLUMN content SET STATISTICS 1000;
"""
POSTGRES_BACKWARD = """
ALTER TABLE messages ALTER COLUMN content SET STATISTICS -1;
DROP INDEX messages_content_trgm;
"""


def per_dialect(sqlite: str, postgres: str):
    async def run(apps, schema_editor) -> None:
        client = schema_editor.client
        dialect = client.capabilities.dialect
        await client.execute_script(postgres if dialect == "postgres" else sqlite)

    return run


class Migration(migrations.Migration):
    dependencies = [("chat", "0010_privacy")]

    initial = False

    operations = [
        ops.RunPython(
            per_dialect(SQLITE_FORWARD, POSTGRES_FORWARD),
            per_dialect(SQLITE_BACKWARD, POSTGRES_BACKWARD),
        )
    ]
