"""The hub's seams: one frame per socket per batch, shared renders, shutdown."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from chat_app.actions import edit_message, toggle_reaction
from chat_app.models.changes import newest_change
from chat_app.realtime import streams
from chat_app.realtime.connection import WRITE_SLICE, Connection
from chat_app.realtime.events import PresenceChanged, RoomChanged, decode, encode
from chat_app.realtime.hub import Hub
from tests.conftest import fill_room
from tests.realtime.test_connection import RecordingSocket


def test_events_round_trip_through_text() -> None:
    event = RoomChanged(room_id=3, change=42)
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
    hub = Hub(app)
    sockets = {user.id: RecordingSocket() for user in (alice, bob)}
    for user_id, socket in sockets.items():
        connection = Connection(socket, user_id=user_id, room_id=general.id, queue_size=4)
        hub.attach(connection)
        await hub.watch(general.id)
        connection.go_live()
    first, second = await fill_room(general, alice, 2)
    # The two events in either order: each socket gets both changes, once, in log order.
    await hub.deliver([RoomChanged(general.id, await newest_change(general.id))] * 2)
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


async def test_tabs_returning_while_their_people_render_runs_share_it_and_a_failed_one_is_not_kept(  # type: ignore[no-untyped-def]
    app, alice, general, monkeypatch
) -> None:
    """A connect storm: tabs arriving together all find the render not finished yet."""
    hub = Hub(app)
    renders: list[int] = []
    real = streams.render_presence_update

    async def counted(room_id, **kwargs):  # type: ignore[no-untyped-def]
        renders.append(room_id)
        await asyncio.sleep(0.05)
        if len(renders) == 1:
            raise ConnectionError("database away")
        return await real(room_id, **kwargs)

    monkeypatch.setattr(streams, "render_presence_update", counted)
    now = int(datetime.now(UTC).timestamp())
    since = datetime.fromtimestamp(now - now % 5 - 30 + 1, UTC)
    async with app.app_context():
        failed = await asyncio.gather(
            *(hub.presence_for_returning_tab(general.id, since) for _ in range(3)),
            return_exceptions=True,
        )
        assert all(isinstance(outcome, ConnectionError) for outcome in failed)
        texts = await asyncio.gather(
            *(hub.presence_for_returning_tab(general.id, since) for _ in range(5))
        )
    assert renders == [general.id, general.id]
    assert all(text is texts[0] for text in texts)
    assert f'id="presence-{alice.id}"' in texts[0]


async def test_tabs_returning_while_a_people_render_waits_share_one_and_get_the_waiting_one(  # type: ignore[no-untyped-def]
    app, alice, bob, general
) -> None:
    """A connect storm: each tab's user comes online, but tabs share the returning render
    until the next live one, which brings them the changes made meanwhile."""
    hub = Hub(app)
    throttle = app.config["PRESENCE_RENDER_SECONDS"]
    app.config["PRESENCE_RENDER_SECONDS"] = 0.5
    now = int(datetime.now(UTC).timestamp())
    since = datetime.fromtimestamp(now - now % 5 - 30 + 1, UTC)
    try:
        async with app.app_context():
            await hub.deliver([PresenceChanged(user_id=alice.id)])  # at once; a window opens
            first = await hub.presence_for_returning_tab(general.id, since)
            await hub.deliver([PresenceChanged(user_id=bob.id)])  # inside it: waits
            tab = Connection(RecordingSocket(), user_id=alice.id, room_id=general.id, queue_size=4)
            hub.attach(tab)
            await hub.watch(general.id)
            assert await hub.presence_for_returning_tab(general.id, since) is first
            tab.go_live()
            assert tab.socket.frames == []
            await asyncio.sleep(1)
            assert f'id="presence-{bob.id}"' in "".join(tab.socket.frames)
            assert await hub.presence_for_returning_tab(general.id, since) is not first
    finally:
        app.config["PRESENCE_RENDER_SECONDS"] = throttle


async def _joined(hub: Hub, user_id: int, room_id: int) -> Connection:
    """A socket of ``user_id`` attached to ``room_id`` and watching it, as a handshake does."""
    connection = Connection(RecordingSocket(), user_id=user_id, room_id=room_id, queue_size=8)
    hub.attach(connection)
    await hub.watch(room_id)
    return connection


async def _caught_up(hub: Hub, connection: Connection, after: int = 0) -> str:
    pages = hub.catch_up(connection.room_id, after, connection.user_id, joined=True)
    return "".join([text async for _, text in pages])


async def test_tabs_joining_together_share_a_catch_up_and_get_what_followed_live(  # type: ignore[no-untyped-def]
    app, alice, bob, general
) -> None:
    hub = Hub(app)
    posted = await fill_room(general, alice, 3)
    first = await _caught_up(hub, await _joined(hub, bob.id, general.id))
    assert all(f'id="message-{m}"' in first for m in posted)
    [late] = await fill_room(general, alice, 1, prefix="late")  # committed, no event here yet
    second = await _joined(hub, bob.id, general.id)
    assert await _caught_up(hub, second) == first  # the same page: one read for both tabs
    polled = [text async for _, text in hub.catch_up(general.id, 0, bob.id)]
    assert f'id="message-{late}"' in "".join(polled)  # a poll has no socket: it reads afresh
    second.go_live()
    await hub.deliver([RoomChanged(general.id, await newest_change(general.id))])
    frames = "".join(second.socket.frames)  # type: ignore[attr-defined]
    assert frames.count(f'id="message-{late}"') == 1  # the later change, live


async def test_a_tab_joining_while_a_delivery_passes_over_the_sockets_reads_afresh(  # type: ignore[no-untyped-def]
    app, alice, bob, general
) -> None:
    hub = Hub(app)
    await fill_room(general, alice, 2)
    others = [await _joined(hub, alice.id, general.id) for _ in range(WRITE_SLICE + 1)]
    for connection in others:
        connection.go_live()
    await _caught_up(hub, await _joined(hub, bob.id, general.id))  # a page before the change
    [late] = await fill_room(general, alice, 1, prefix="late")
    change = await newest_change(general.id)
    delivery = asyncio.create_task(hub.deliver([RoomChanged(general.id, change)]))
    written = [c.socket for c in others]
    while not any(socket.frames for socket in written):  # type: ignore[attr-defined]
        await asyncio.sleep(0)
    assert not all(socket.frames for socket in written)  # type: ignore[attr-defined]
    # Mid-pass: the pass took its sockets before this one joined, and has not marked the
    # change delivered, so the page kept from before would lack it.
    joining = await _joined(hub, bob.id, general.id)
    text = await _caught_up(hub, joining)
    await delivery
    joining.go_live()
    assert f'id="message-{late}"' in text + "".join(joining.socket.frames)  # type: ignore[attr-defined]


async def test_catch_ups_replay_the_live_renders_and_render_what_changed_since(  # type: ignore[no-untyped-def]
    app, alice, general
) -> None:
    hub = Hub(app)
    connection = Connection(RecordingSocket(), user_id=alice.id, room_id=general.id, queue_size=4)
    hub.attach(connection)
    await hub.watch(general.id)
    connection.go_live()
    [first] = await fill_room(general, alice, 1)
    await hub.deliver([RoomChanged(general.id, await newest_change(general.id))])
    [live] = connection.socket.frames  # type: ignore[attr-defined]

    async def replay() -> str:
        [(_, text)] = [page async for page in hub.catch_up(general.id, 0, alice.id)]
        return text

    assert (await replay()).startswith(live)  # the live render, then the cursor
    async with app.app_context():
        await edit_message(alice, first, "edited")
        await toggle_reaction(alice, first, "👍")
    replayed = await replay()
    assert "edited" in replayed and "👍" in replayed and replayed.count('<div id="message-') == 1
