"""Messages' rendered HTML on the real database: made when stored, by migration 0010 for the
messages stored before it, and read as plain text wherever HTML does not belong (reply
quotes, push notifications)."""

from __future__ import annotations

from pathlib import Path

from quart import Quart

from chat_app.actions import post_message
from chat_app.models import Message, Room, User
from chat_app.models.messages import with_authors
from chat_app.models.notifications import notice_of
from tests.conftest import new_database
from tests.upgrades import upgraded

OLD_ROWS = (
    "INSERT INTO users (id, username, password_hash, is_active, is_admin, created_at)"
    " VALUES (1, 'old', 'x', true, false, CURRENT_TIMESTAMP);"
    "INSERT INTO rooms (id, slug, name, kind, created_at)"
    " VALUES (1, 'general', 'General', 'open', CURRENT_TIMESTAMP);"
    "INSERT INTO messages (id, room_id, author_id, content, client_id, created_at) VALUES"
    " (5, 1, 1, '**five** <b>', 'c5', CURRENT_TIMESTAMP),"
    " (9, 1, 1, 'nine :tada:', 'c9', CURRENT_TIMESTAMP);"
)


async def test_messages_stored_before_the_upgrade_are_rendered_by_the_migration(
    tmp_path: Path,
) -> None:
    async with new_database(tmp_path, migrated=False) as url:
        [rendered] = await upgraded(
            url,
            "chat.0009_unread_and_mentions",
            OLD_ROWS,
            ["SELECT id, content_html FROM messages ORDER BY id"],
        )
    assert rendered == str(
        [
            {"id": 5, "content_html": "<p><strong>five</strong> &lt;b&gt;</p>"},
            {"id": 9, "content_html": "<p>nine 🎉</p>"},
        ]
    )


async def test_quotes_and_pushes_read_the_message_as_plain_text(
    app: Quart, alice: User, bob: User, general: Room
) -> None:
    async with app.app_context():
        original = await post_message(alice, general, "**Ship it** `now` <b>&amp;", "c-rich-01")
        reply = await post_message(bob, general, "ok", "c-rich-02", reply_to=original.id)
    stored = await Message.get(id=original.id).select_related("author", "room")
    assert stored.content_html == "<p><strong>Ship it</strong> <code>now</code> &lt;b&gt;&amp;</p>"
    assert notice_of(stored)["body"] == "Ship it now <b>&"
    [shown] = await with_authors([reply.id])
    assert shown.quoted is not None and shown.quoted.excerpt == "Ship it now <b>&"
