"""post_message: validation, one event after commit, idempotent retries, rate limit."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from quart import Quart
from tortoise import connections
from tortoise.exceptions import BaseORMException
from tortoise.transactions import in_transaction

from chat_app.actions import MessageRejected, post_message
from chat_app.models import Membership, Message, Room, User
from chat_app.models.changes import newest_change
from chat_app.realtime.events import RoomChanged
from tests.actions.conftest import RecordingBroker
from tests.conftest import DATABASE


async def test_stores_and_publishes_once_after_commit(
    published: RecordingBroker, alice: User, general: Room
) -> None:
    message = await post_message(alice, general, "  hello\r\nworld  ", "client-0001")
    assert message.content == "hello\nworld"
    assert published.events == [RoomChanged(general.id, await newest_change(general.id))]
    assert published.committed_when_published == [True]


async def test_retry_with_same_client_id_stores_and_publishes_nothing_new(
    published: RecordingBroker, alice: User, general: Room
) -> None:
    first = await post_message(alice, general, "hello", "client-0001")
    again = await post_message(alice, general, "hello", "client-0001")
    assert again.id == first.id
    assert await Message.filter(author=alice).count() == 1
    assert len(published.events) == 1


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "Write something"),
        (" \n\t ", "Write something"),
        ("x" * 4001, "at most 4,000 characters"),
        (None, "must be text"),
        (["list"], "must be text"),
        ("\x00\x01\x1b\x7f\x85\ud800", "Write something"),  # nothing visible is left
    ],
)
async def test_invalid_content_is_rejected_and_nothing_is_stored(
    published: RecordingBroker, alice: User, general: Room, content: object, reason: str
) -> None:
    with pytest.raises(MessageRejected, match=reason):
        await post_message(alice, general, content, "client-0001")
    assert await Message.all().count() == 0
    assert published.events == []


async def test_control_characters_and_lone_surrogates_are_stripped_newline_and_tab_kept(
    published: RecordingBroker, alice: User, general: Room
) -> None:
    raw = "a\x00b\x1b[31mc\x7fd\x85e\ud800f\r\ng\rh\ti"
    message = await post_message(alice, general, raw, "client-0001")
    assert message.content == "ab[31mcdef\ng\nh\ti"
    assert (await Message.get(id=message.id)).content == message.content


async def test_bidi_and_zero_width_characters_are_kept_as_typed(
    published: RecordingBroker, alice: User, general: Room
) -> None:
    # Legitimate in many scripts (RTL text, ZWJ emoji); the page isolates them in the bubble.
    raw = "abc\u202edcba\u200b\u200d\u2066x\u2069"
    message = await post_message(alice, general, raw, "client-0001")
    assert message.content == raw


async def test_exactly_the_limit_is_accepted(
    published: RecordingBroker, alice: User, general: Room
) -> None:
    message = await post_message(alice, general, "é" * 4000, "client-0001")
    assert len(message.content) == 4000


@pytest.mark.parametrize("client_id", [None, "", "short", "x" * 65, "has space12", 42])
async def test_invalid_client_id_is_rejected(
    published: RecordingBroker, alice: User, general: Room, client_id: object
) -> None:
    with pytest.raises(MessageRejected, match="client id"):
        await post_message(alice, general, "hello", client_id)
    assert published.events == []


@pytest.fixture
async def inserts_fail(app: Quart) -> AsyncIterator[None]:
    """A real database trigger that refuses every insert into messages, then is removed."""
    db = connections.get("default")
    if DATABASE == "postgres":
        await db.execute_script(
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; "
            "END $$ LANGUAGE plpgsql; CREATE TRIGGER refuse BEFORE INSERT ON messages "
            "FOR EACH ROW EXECUTE FUNCTION refuse();"
        )
        yield
        await db.execute_script("DROP TRIGGER refuse ON messages; DROP FUNCTION refuse();")
    else:
        await db.execute_script(
            "CREATE TRIGGER refuse BEFORE INSERT ON messages "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END;"
        )
        yield
        await db.execute_script("DROP TRIGGER refuse;")


async def test_failed_insert_publishes_nothing(
    published: RecordingBroker, alice: User, general: Room, inserts_fail: None
) -> None:
    with pytest.raises((BaseORMException, asyncpg.PostgresError), match="refused"):
        await post_message(alice, general, "into the void", "client-0001")
    assert published.events == []
    assert await Message.all().count() == 0


async def test_burst_then_rate_limit(
    app: Quart, published: RecordingBroker, alice: User, bob: User, general: Room
) -> None:
    # No refill during the test: on a busy machine ten posts can take longer than 0.2 s.
    app.config["MESSAGES_PER_SECOND"] = 0.01
    try:
        for n in range(10):
            await post_message(alice, general, f"burst {n}", f"client-{n:04d}")
        with pytest.raises(MessageRejected, match="too fast"):
            await post_message(alice, general, "one too many", "client-0010")
        await post_message(bob, general, "others are not slowed", "client-0011")
    finally:
        app.config["MESSAGES_PER_SECOND"] = 5.0
    assert len(published.events) == 11


async def test_a_sender_who_leaves_mid_write_never_wedges_the_database(
    app: Quart, published: RecordingBroker, alice: User, general: Room
) -> None:
    # A socket handler is cancelled when its client disconnects, at whatever await it is in.
    for steps in range(12):
        app.extensions.pop("limiters", None)
        task = asyncio.create_task(post_message(alice, general, "bye", f"client-{steps:04d}"))
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        # Hangs forever if a cancelled transaction kept the connection's lock.
        await asyncio.wait_for(Message.all().count(), 10)
    await asyncio.sleep(0.1)  # shielded writes that outlived their caller finish
    for message in await Message.all():
        assert message.content == "bye"


async def test_a_member_removed_meanwhile_cannot_post(
    published: RecordingBroker, alice: User, general: Room
) -> None:
    await Membership.filter(user=alice, room=general).delete()
    with pytest.raises(MessageRejected, match="not a member"):
        await post_message(alice, general, "still here?", "client-0001")
    assert published.events == []


async def test_an_archived_room_takes_no_new_messages(
    published: RecordingBroker, alice: User, general: Room
) -> None:
    await Room.filter(id=general.id).update(archived_at=datetime.now(UTC))
    with pytest.raises(MessageRejected, match="archived"):
        await post_message(alice, general, "anyone?", "client-0001")
    assert await Message.all().count() == 0


@pytest.mark.skipif(DATABASE != "postgres", reason="SQLite has one writer at a time")
async def test_an_insert_takes_its_id_only_after_the_rooms_earlier_insert_commits(
    alice: User, general: Room
) -> None:
    """Tabs resume after the newest id they saw, so a room's ids must follow commit order:
    an insert that has to wait for an open transaction in the same room must also get the
    larger id (migration 0003), whatever code inserts."""
    async with in_transaction() as slow:
        first = await Message.create(
            room=general, author=alice, content="slow", client_id="slow-0001", using_db=slow
        )
        second_task = asyncio.create_task(  # its own connection, not the transaction's
            Message.create(room=general, author=alice, content="fast", client_id="fast-0001"),
            context=contextvars.Context(),
        )
        await asyncio.sleep(0.3)
        assert not second_task.done()  # waits for the first to commit
    second = await asyncio.wait_for(second_task, 5)
    assert second.id > first.id
