"""Edits, deletions and reactions over the socket: live on every tab, and replayed exactly by
the catch-up of a tab that was away."""

from __future__ import annotations

import json
import re

from quart import Quart
from quart.testing import QuartClient

from chat_app.actions import delete_message, edit_message, post_message, toggle_reaction
from chat_app.models import Message, Reaction, Room, User
from chat_app.models.changes import newest_change
from chat_app.realtime.connection import Connection
from chat_app.realtime.events import RoomChanged
from chat_app.realtime.hub import Hub
from tests.blueprints.test_live import LIVE, ORIGIN, drain, live_pair, receive_until
from tests.realtime.test_connection import RecordingSocket

CURSOR = re.compile(r'<div id="change-cursor" data-change="(\d+)" hidden>')


def op(**fields: object) -> str:
    """A frame as the page's forms send one over the socket."""
    return json.dumps({**fields, "HEADERS": {"HX-Request": "true"}})


def cursor_of(frames: str) -> int:
    return max(int(n) for n in CURSOR.findall(frames))


async def test_an_edit_a_reaction_and_a_deletion_reach_every_tab_live(
    app: Quart, alice_client: QuartClient, bob_client: QuartClient, general: Room
) -> None:
    async with live_pair(alice_client, bob_client, settled=True) as (alice_ws, bob_ws):
        await alice_ws.send(op(content="hello wrold", client_id="client-live-0001"))
        await receive_until(bob_ws, "hello wrold")
        message = await Message.get(content="hello wrold")
        await alice_ws.send(op(op="edit", message_id=str(message.id), content="hello world"))
        edited = await receive_until(bob_ws, "hello world")
        assert f'<div id="message-{message.id}"' in edited and "(edited)" in edited
        assert 'hx-swap-oob="beforeend"' not in edited  # replaced in place, not appended
        await bob_ws.send(op(op="react", message_id=message.id, emoji="🎉"))
        for ws in (alice_ws, bob_ws):
            assert "🎉 1: bob" in await receive_until(ws, "🎉 1: bob")
        await alice_ws.send(op(op="delete", message_id=str(message.id)))
        for ws in (alice_ws, bob_ws):
            gone = await receive_until(ws, 'hx-swap-oob="delete"')
            assert f'<div id="message-{message.id}" hx-swap-oob="delete" data-change=' in gone
    assert not await Message.exists(id=message.id)


async def test_refused_changes_over_the_socket_get_the_reason_and_change_nothing(
    app: Quart, alice_client: QuartClient, bob_client: QuartClient, alice: User, general: Room
) -> None:
    async with app.app_context():
        message = await post_message(alice, general, "mine", "client-0001")
    async with live_pair(alice_client, bob_client, settled=True) as (_, bob_ws):
        for frame, reason in [
            (op(op="edit", message_id=message.id, content="theirs"), "your own messages"),
            (op(op="delete", message_id=message.id), "your own messages"),
            (op(op="react", message_id=message.id, emoji="x" * 10_000), "one emoji"),
            (op(op="react", message_id="1e9", emoji="👍"), "no such message"),
            (op(op="edit", message_id=[1], content="x"), "no such message"),
            (op(op="explode", message_id=message.id), "Unknown request"),
        ]:
            await bob_ws.send(frame)
            assert 'id="notice"' in await receive_until(bob_ws, reason)
    assert (await Message.get(id=message.id)).content == "mine"
    assert not await Reaction.exists(message_id=message.id)


async def test_a_tab_back_from_a_disconnect_gets_exactly_what_changed_meanwhile(
    app: Quart, alice_client: QuartClient, alice: User, bob: User, general: Room
) -> None:
    async with app.app_context():
        kept, edited, deleted, reacted = [
            await post_message(bob, general, f"message {n}", f"client-{n:04d}") for n in range(4)
        ]
    async with alice_client.websocket(LIVE, headers={"Origin": ORIGIN}) as ws:
        cursor = cursor_of(await receive_until(ws, "message 3"))
    app.extensions.pop("limiters", None)  # bob writes more than a burst in all
    async with app.app_context():  # while the tab is away
        await edit_message(bob, edited.id, "message 1, edited")
        await delete_message(bob, deleted.id)
        await toggle_reaction(bob, reacted.id, "👀")
        await toggle_reaction(bob, reacted.id, "👀")  # taken back again
        await toggle_reaction(bob, reacted.id, "🙏")
        added = await post_message(bob, general, "message 4", "client-0004")
        await edit_message(bob, added.id, "message 4, edited")
        gone = await post_message(bob, general, "message 5", "client-0005")
        await delete_message(bob, gone.id)
    async with alice_client.websocket(
        f"/rooms/general/live?after={cursor}", headers={"Origin": ORIGIN}
    ) as ws:
        replay = await receive_until(ws, f'data-change="{await newest_change(general.id)}"')
        replay += await drain(ws)
    assert f"message-{kept.id}" not in replay  # unchanged: not sent again
    assert replay.count(f'<div id="message-{edited.id}"') == 1 and "message 1, edited" in replay
    assert f'<div id="message-{deleted.id}" hx-swap-oob="delete" data-change=' in replay
    assert replay.count(f'<div id="message-{reacted.id}"') == 1
    assert "🙏 1: bob" in replay and "👀" not in replay
    appended = replay[replay.index('hx-swap-oob="beforeend"') :]
    assert f'<div id="message-{added.id}"' in appended and "message 4, edited" in appended
    assert f"message-{gone.id}" not in replay  # posted and deleted while away: nothing to do
    assert cursor_of(replay) == await newest_change(general.id)


async def test_a_node_hearing_of_changes_out_of_order_delivers_each_once_in_order(
    app: Quart, alice: User, general: Room
) -> None:
    """Brokers can bring two nodes' events in either order: the event only says when to read
    the log, so the later change's event alone delivers the earlier one too."""
    hub = Hub(app)
    socket = RecordingSocket()
    connection = Connection(socket, user_id=alice.id, room_id=general.id, queue_size=8)
    hub.attach(connection)
    connection.cursor = await hub.watch(general.id)
    connection.go_live()
    async with app.app_context():
        first = await post_message(alice, general, "first", "client-0001")
        second = await post_message(alice, general, "second", "client-0002")
    newest = await newest_change(general.id)
    await hub.deliver([RoomChanged(general.id, newest)])  # the later one arrives first
    await hub.deliver([RoomChanged(general.id, newest - 1)])  # and the earlier one late
    frames = "".join(socket.frames)
    assert frames.index(f'<div id="message-{first.id}"') < frames.index(
        f'<div id="message-{second.id}"'
    )
    assert frames.count('<div id="message-') == 2 and connection.cursor == newest


async def test_a_cursor_beyond_the_log_resumes_from_its_end(
    app: Quart, alice_client: QuartClient, alice: User, general: Room
) -> None:
    """A cursor from before a database was restored (or a forged one) must not make the tab
    skip what is posted from now on."""
    async with alice_client.websocket(
        "/rooms/general/live?after=999999999", headers={"Origin": ORIGIN}
    ) as ws:
        await drain(ws)
        async with app.app_context():
            await post_message(alice, general, "after the restore", "client-0001")
        assert "after the restore" in await receive_until(ws, "after the restore")
