"""PostgreSQL: a room's message ids follow commit order, whoever inserts.

A tab resumes after the newest id it has seen, so an id must never become visible after a
larger one of the same room. A sequence hands out ids when a row is inserted, not when it is
committed: this trigger first waits for the room's previous insert to commit (by locking the
room's row), then takes the id (the column's default, which would take it earlier, goes).
One autocommit INSERT therefore does what took a transaction, a SELECT ... FOR UPDATE and a
COMMIT. SQLite has one writer at a time, so it needs nothing.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

FORWARD = """
CREATE FUNCTION message_id_in_commit_order() RETURNS trigger AS $$
BEGIN
    PERFORM 1 FROM rooms WHERE id = NEW.room_id FOR UPDATE;
    IF NEW.id IS NULL THEN
        NEW.id := nextval(pg_get_serial_sequence('messages', 'id'));
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER message_id_in_commit_order BEFORE INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION message_id_in_commit_order();
-- The column default would take an id before the trigger runs (and waste one per row).
ALTER TABLE messages ALTER COLUMN id DROP DEFAULT;
"""
BACKWARD = """
ALTER TABLE messages ALTER COLUMN id SET DEFAULT nextval(pg_get_serial_sequence('messages', 'id'));
DROP TRIGGER message_id_in_commit_order ON messages;
DROP FUNCTION message_id_in_commit_order();
"""


def on_postgres(sql: str):
    async def run(apps, schema_editor) -> None:
        if schema_editor.client.capabilities.dialect == "postgres":
            await schema_editor.client.execute_script(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("chat", "0002_presence_and_admin")]

    initial = False

    operations = [ops.RunPython(on_postgres(FORWARD), on_postgres(BACKWARD))]
