"""The hub's seams: one frame per socket per batch, shared renders, shutdown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chat_app.models import Message
from chat_app.realtime.connection import Connection
from chat_app.realtime.events import MessagePosted, PresenceChanged, decode, encode
from chat_app.realtime.hub import Hub
from tests.conftest import fill_room
from tests.realtime.test_connection import RecordingSocket


def test_events_round_trip_through_text() -> None:
    event = MessagePosted(room_id=3, message_id=42)
    assert decode(encode(event)) == event
    with pytest.raises(ValueError, match="unknown event"):
        decode('{"kind": "nope"}')


async def test_a_socket_opening_during_shutdown_is_closed_too(app) -> None:  # type: ignore[no-untyped-def]
    hub = Hub(app)
    hub.close_all()
    late = Connection(RecordingSocket(), user_id=1, room_id=1, queue_size=4)
    hub.attach(late)
    assert late.close_code == 1012


async def test_messages_delivered_together_go_to_each_socket_as_one_frame(  # type: ignore[no-untyped-def]
    app, alice, bob, general
) -> None:
    first, second = await fill_room(general, alice, 2)
    hub = Hub(app)
    sockets = {user.id: RecordingSocket() for user in (alice, bob)}
    for user_id, socket in sockets.items():
        connection = Connection(socket, user_id=user_id, room_id=general.id, queue_size=4)
        hub.attach(connection)
        connection.go_live()
    await hub.deliver([MessagePosted(general.id, first), MessagePosted(general.id, second)])
    for user_id, socket in sockets.items():
        [frame] = socket.frames
        assert frame.index(f'id="message-{first}"') < frame.index(f'id="message-{second}"')
        assert frame.count("chat-end") == (2 if user_id == alice.id else 0)  # own on the right


async def test_tabs_returning_together_share_one_people_render_until_presence_changes(  # type: ignore[no-untyped-def]
    app, alice, general
) -> None:
    hub = Hub(app)
    now = int(datetime.now(UTC).timestamp())
    since = datetime.fromtimestamp(now - now % 5 - 30 + 1, UTC)  # inside one 5 s bucket
    async with app.app_context():
        first = await hub.presence_for_returning_tab(general.id, since)
        again = await hub.presence_for_returning_tab(general.id, since + timedelta(seconds=2))
        assert again is first
        await hub.deliver([PresenceChanged(user_id=alice.id)])
        assert await hub.presence_for_returning_tab(general.id, since) is not first


async def test_catch_ups_reuse_the_live_render_unless_the_id_now_names_another_message(  # type: ignore[no-untyped-def]
    app, alice, general
) -> None:
    hub = Hub(app)
    connection = Connection(RecordingSocket(), user_id=alice.id, room_id=general.id, queue_size=4)
    hub.attach(connection)
    connection.go_live()
    [first] = await fill_room(general, alice, 1)
    await hub.deliver([MessagePosted(general.id, first)])
    stored = await Message.get(id=first)
    [replayed] = await hub.catch_up_renders([(first, stored.created_at)])
    assert [replayed] == await hub.catch_up_renders([(first, stored.created_at)])
    assert replayed.for_author in connection.socket.frames[0]  # type: ignore[attr-defined]
    # SQLite can hand a deleted newest id out again: a different created_at renders anew.
    [other] = await hub.catch_up_renders([(first, stored.created_at - timedelta(seconds=1))])
    assert other is not replayed and other.message_id == first
