"""The change log on the real database: numbers in commit order, and the migration that
turns the messages already stored into their own changes."""

from __future__ import annotations

import asyncio
import contextvars
from pathlib import Path

import pytest
from tortoise.transactions import in_transaction

from chat_app.models import Change, ChangeKind, Room, User
from tests.conftest import DATABASE, new_database
from tests.upgrades import upgraded


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


OLD_ROWS = (
    "INSERT INTO users (id, username, password_hash, is_active, is_admin, created_at)"
    " VALUES (1, 'old', 'x', true, false, CURRENT_TIMESTAMP);"
    "INSERT INTO rooms (id, slug, name, created_at)"
    " VALUES (1, 'general', 'General', CURRENT_TIMESTAMP);"
    "INSERT INTO memberships (id, user_id, room_id, joined_at)"
    " VALUES (1, 1, 1, CURRENT_TIMESTAMP);"
    "INSERT INTO messages (id, room_id, author_id, content, client_id, created_at) VALUES"
    " (5, 1, 1, 'five', 'c5', CURRENT_TIMESTAMP), (9, 1, 1, 'nine', 'c9', CURRENT_TIMESTAMP);"
)


async def test_messages_stored_before_the_change_log_become_their_own_changes(
    tmp_path: Path,
) -> None:
    """A page loaded before the upgrade resumes after a message id: it must name the same
    place in the log, and new changes must be numbered after it."""
    async with new_database(tmp_path, migrated=False) as url:
        changes, roles, newest = await upgraded(
            url,
            "chat.0004_lookup_indexes",
            OLD_ROWS,
            [
                "SELECT id, message_id, kind FROM changes ORDER BY id",
                "SELECT role FROM memberships",
                "INSERT INTO changes (room_id, message_id, kind, created_at)"
                " VALUES (1, 9, 'edited', CURRENT_TIMESTAMP)",
                "SELECT max(id) AS newest FROM changes",
            ],
        )
    assert changes == str(
        [
            {"id": 5, "message_id": 5, "kind": "posted"},
            {"id": 9, "message_id": 9, "kind": "posted"},
        ]
    )
    assert roles == str([{"role": "member"}])
    assert newest == str([{"newest": 10}])
