"""The change log on the real database: numbers in commit order, and the migration that
turns the messages already stored into their own changes."""

from __future__ import annotations

import asyncio
import contextvars
import subprocess
import sys
from pathlib import Path

import pytest
from tortoise.transactions import in_transaction

from chat_app.models import Change, ChangeKind, Room, User
from tests.conftest import DATABASE, new_database


@pytest.mark.skipif(DATABASE != "postgres", reason="SQLite has one writer at a time")
async def test_a_change_takes_its_number_only_after_the_rooms_earlier_change_commits(
    alice: User, general: Room
) -> None:
    """A tab resumes after the newest change it applied, so a room's numbers must become
    visible in order: one that waits for an open transaction of the same room gets the
    larger number (migration 0005), whatever code writes it."""
    async with in_transaction() as slow:
        first = await Change.create(
            room=general, message_id=1, kind=ChangeKind.EDITED, using_db=slow
        )
        second_task = asyncio.create_task(  # its own connection, not the transaction's
            Change.create(room=general, message_id=2, kind=ChangeKind.EDITED),
            context=contextvars.Context(),
        )
        await asyncio.sleep(0.3)
        assert not second_task.done()  # waits for the first to commit
    second = await asyncio.wait_for(second_task, 5)
    assert second.id > first.id


UPGRADE = """
import asyncio, sys
from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate
from chat_app.config import tortoise_config

async def main(url):
    config = tortoise_config(url)
    await migrate(config=config, target="chat.0004_lookup_indexes")
    db = connections.get("default")
    await db.execute_script(
        "INSERT INTO users (id, username, password_hash, is_active, is_admin, created_at)"
        " VALUES (1, 'old', 'x', true, false, CURRENT_TIMESTAMP);"
        "INSERT INTO rooms (id, slug, name, created_at)"
        " VALUES (1, 'general', 'General', CURRENT_TIMESTAMP);"
        "INSERT INTO memberships (id, user_id, room_id, joined_at)"
        " VALUES (1, 1, 1, CURRENT_TIMESTAMP);"
        "INSERT INTO messages (id, room_id, author_id, content, client_id, created_at) VALUES"
        " (5, 1, 1, 'five', 'c5', CURRENT_TIMESTAMP), (9, 1, 1, 'nine', 'c9', CURRENT_TIMESTAMP);"
    )
    await Tortoise.close_connections()
    await migrate(config=config)
    db = connections.get("default")
    print(await db.execute_query_dict("SELECT id, message_id, kind FROM changes ORDER BY id"))
    print(await db.execute_query_dict("SELECT role FROM memberships"))
    await db.execute_script(
        "INSERT INTO changes (room_id, message_id, kind, created_at)"
        " VALUES (1, 9, 'edited', CURRENT_TIMESTAMP)"
    )
    print(await db.execute_query_dict("SELECT max(id) AS newest FROM changes"))
    await Tortoise.close_connections()

asyncio.run(main(sys.argv[1]))
"""


async def test_messages_stored_before_the_change_log_become_their_own_changes(
    tmp_path: Path,
) -> None:
    """A page loaded before the upgrade resumes after a message id: it must name the same
    place in the log, and new changes must be numbered after it."""
    async with new_database(tmp_path, migrated=False) as url:
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", UPGRADE, url],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    changes, roles, newest = done.stdout.strip().splitlines()
    assert changes == str(
        [
            {"id": 5, "message_id": 5, "kind": "posted"},
            {"id": 9, "message_id": 9, "kind": "posted"},
        ]
    )
    assert roles == str([{"role": "member"}])
    assert newest == str([{"newest": 10}])
