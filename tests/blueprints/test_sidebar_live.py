"""The live sidebar beyond unread marks: conversations ride the same entry (named by the
other people, with their presence dots), rooms and conversations come and go on every tab of
the user, counts follow edits and deletions, and desktop notices of other rooms arrive on
the user's own channel for what their level allows."""

from __future__ import annotations

import asyncio
import html
import re
from typing import Any

import pytest
from quart import Quart

from chat_app.actions import delete_message, edit_message, post_message
from chat_app.actions.directs import open_direct
from chat_app.actions.rooms import (
    add_member,
    archive_room_by,
    create_room_by,
    join_open_room,
    join_room,
    leave_room,
    remove_member,
)
from chat_app.models import Membership, Room, User
from chat_app.realtime import streams
from tests.blueprints.test_live import ORIGIN, drain, receive_until
from tests.blueprints.test_unread import entry
from tests.conftest import PASSWORD, log_in, register_user
from tests.realtime.test_connection import recorded_tabs

GENERAL_LIVE = "/rooms/general/live?after=0"


@pytest.fixture
async def carol(app: Quart, alice: User) -> User:
    return await register_user("carol", PASSWORD)


@pytest.fixture
async def other(app: Quart, alice: User, bob: User) -> Room:
    async with app.app_context():
        room = await join_room(alice, "other", "Other")
        await join_room(bob, "other")
    return room


def last_entry(frames: str, room: Room) -> str:
    """The newest entry of ``room`` among ``frames``."""
    return entry(frames[frames.rindex(f'<li id="room-link-{room.id}"') :], room)


async def entry_until(ws, room: Room, settled: Any) -> str:  # type: ignore[no-untyped-def]
    """``room``'s newest sidebar entry on ``ws`` once ``settled(entry)`` holds: an entry sent
    for an earlier change may still be on its way."""
    async with asyncio.timeout(10):
        while not settled(found := last_entry(await receive_until(ws, room_link(room)), room)):
            pass
    return found


def room_link(room: Room) -> str:
    return f'id="room-link-{room.id}"'


def notices(frames: str) -> list[dict[str, str]]:
    """The desktop notices in ``frames``, as notify.js reads them."""
    found = []
    for attrs in re.findall(r"<span data-notice ([^>]*)>", frames):
        found.append(
            {k: html.unescape(v) for k, v in re.findall(r'data-([a-z-]+)="([^"]*)"', attrs)}
        )
    return found


async def test_a_dm_message_marks_the_conversation_named_by_the_others_on_tabs_elsewhere(
    app: Quart, alice: User, bob: User, carol: User, general: Room
) -> None:
    async with app.app_context():
        dm = await open_direct(alice, [bob.id, carol.id])
    bob_tab = await log_in(app, "bob")
    async with bob_tab.websocket(GENERAL_LIVE, headers={"Origin": ORIGIN}) as in_general:
        await drain(in_general)
        async with app.app_context():
            await post_message(alice, dm, "a word, you two", "client-dm-live-1")
            await post_message(alice, dm, "and another", "client-dm-live-2")
        frames = await receive_until(in_general, 'unread-count">2<')
    mark = last_entry(frames, dm)
    assert ">alice, carol<" in mark  # the others' names, not bob's own
    assert mark.count('class="status ') == 2 and 'data-unread="true"' in mark
    assert "unread messages" in mark  # counted as messages, not mentions


async def test_a_conversations_entry_is_rendered_once_per_member_not_per_socket(
    app: Quart, alice: User, bob: User, carol: User, general: Room, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with app.app_context():
        dm = await open_direct(alice, [bob.id, carol.id])
    renders: list[tuple[int, ...]] = []
    real = streams.render_room_link

    async def counted(room: Room, mark: Any, partners: Any = (), **kwargs: Any) -> str:
        if not kwargs.get("added"):  # the conversation's arrival may still be on its way
            renders.append(tuple(p.user_id for p in partners))
        return await real(room, mark, partners, **kwargs)

    monkeypatch.setattr(streams, "render_room_link", counted)
    hub = app.extensions["hub"]
    with recorded_tabs(hub, (bob, carol), general.id, 3) as sockets:  # three tabs each, in #general
        async with app.app_context():
            await post_message(alice, dm, "hello both", "client-dm-live-3")
        async with asyncio.timeout(5):
            while not all('unread-count">1<' in "".join(s.frames) for _, s, _ in sockets):
                await asyncio.sleep(0.02)
        assert sorted(renders) == sorted([(alice.id, carol.id), (alice.id, bob.id)])
        for user, socket, _ in sockets:
            text = "".join(socket.frames)
            others = "alice, carol" if user == bob else "alice, bob"
            assert f">{others}<" in text


async def test_a_room_joined_or_added_appears_on_every_tab_and_leaves_when_left(
    app: Quart, alice: User, bob: User, general: Room
) -> None:
    bob_one, bob_two = await log_in(app, "bob"), await log_in(app, "bob")
    async with (
        bob_one.websocket(GENERAL_LIVE, headers={"Origin": ORIGIN}) as one,
        bob_two.websocket(GENERAL_LIVE, headers={"Origin": ORIGIN}) as two,
    ):
        await drain(one)
        await drain(two)
        async with app.app_context():
            ops = await create_room_by(alice, "Ops", "", "private")
            await add_member(alice, ops, "bob")
        for tab in (one, two):
            frame = await receive_until(tab, 'hx-swap-oob="beforeend:#room-list"')
            assert "Ops" in entry(frame.split("beforeend:#room-list", 1)[1], ops)
        async with app.app_context():
            await add_member(alice, ops, "bob")  # already in: nothing new
            await remove_member(alice, ops, str(bob.id))
        for tab in (one, two):
            gone = await receive_until(tab, 'hx-swap-oob="delete"')
            assert f'<li id="room-link-{ops.id}" hx-swap-oob="delete"></li>' in gone
            assert "beforeend" not in gone
        async with app.app_context():
            lobby = await create_room_by(alice, "Lobby", "", "open")
            await join_open_room(bob, "lobby")
            assert "Lobby" in await receive_until(one, "beforeend:#room-list")
            await leave_room(bob, lobby)
        assert f'id="room-link-{lobby.id}" hx-swap-oob="delete"' in await receive_until(
            one, f'id="room-link-{lobby.id}" hx-swap-oob="delete"'
        )


async def test_a_new_conversation_appears_for_each_of_its_people(
    app: Quart, alice: User, bob: User, carol: User, general: Room
) -> None:
    alice_tab, carol_tab = await log_in(app, "alice"), await log_in(app, "carol")
    async with (
        alice_tab.websocket(GENERAL_LIVE, headers={"Origin": ORIGIN}) as alices,
        carol_tab.websocket(GENERAL_LIVE, headers={"Origin": ORIGIN}) as carols,
    ):
        await drain(alices)
        await drain(carols)
        async with app.app_context():
            dm = await open_direct(alice, [bob.id])
        frame = await receive_until(alices, "beforeend:#direct-list")
        assert ">bob<" in entry(frame.split("beforeend:#direct-list", 1)[1], dm)
        assert f"room-link-{dm.id}" not in await drain(carols)  # not hers: nothing at all
        async with app.app_context():
            assert (await open_direct(alice, [bob.id])).id == dm.id  # again: no new entry
        assert "beforeend" not in await drain(alices)


async def test_an_archived_room_leaves_the_sidebar_and_its_own_tabs_are_told(
    app: Quart, alice: User, bob: User, general: Room, other: Room
) -> None:
    await Membership.filter(user=alice, room=other).update(role="admin")
    bob_one, bob_two = await log_in(app, "bob"), await log_in(app, "bob")
    async with (
        bob_one.websocket(GENERAL_LIVE, headers={"Origin": ORIGIN}) as elsewhere,
        bob_two.websocket("/rooms/other/live?after=0", headers={"Origin": ORIGIN}) as inside,
    ):
        await drain(elsewhere)
        await drain(inside)
        async with app.app_context():
            await archive_room_by(alice, other)
        gone = await receive_until(elsewhere, 'hx-swap-oob="delete"')
        assert f'<li id="room-link-{other.id}" hx-swap-oob="delete"></li>' in gone
        assert "was archived" in await receive_until(inside, "was archived")
    page = await (await bob_one.get("/rooms/general")).get_data(as_text=True)
    assert f'id="room-link-{other.id}"' not in page  # nor on the next load
    shown = await (await bob_one.get("/rooms/other")).get_data(as_text=True)
    assert f'id="room-link-{other.id}"' in shown  # still readable, and listed while shown


async def test_deleting_an_unread_mention_or_editing_it_away_updates_the_counts_live(
    app: Quart, alice: User, bob: User, general: Room, other: Room
) -> None:
    bob_tab = await log_in(app, "bob")
    async with bob_tab.websocket(GENERAL_LIVE, headers={"Origin": ORIGIN}) as in_general:
        await drain(in_general)
        async with app.app_context():
            first = await post_message(alice, other, "hey @bob", "client-retract-1")
            second = await post_message(alice, other, "and @bob again", "client-retract-2")
        await entry_until(in_general, other, lambda e: 'unread-count">2<' in e)
        async with app.app_context():
            await delete_message(alice, first.id)
        counted = await entry_until(in_general, other, lambda e: 'unread-count">1<' in e)
        assert 'data-unread="true"' in counted
        async with app.app_context():
            await edit_message(alice, second.id, "and bob again, no mention")
        edited = await entry_until(in_general, other, lambda e: "unread-count" not in e)
        assert 'data-unread="true"' in edited  # still unread
        async with app.app_context():
            await delete_message(alice, second.id)
        await entry_until(in_general, other, lambda e: 'data-unread="false"' in e)


async def test_desktop_notices_of_other_rooms_follow_each_members_level(
    app: Quart, alice: User, bob: User, carol: User, general: Room, other: Room
) -> None:
    async with app.app_context():
        await join_room(carol, "other")
    await Membership.filter(user=carol, room=other).update(notify="none")
    bob_tab, carol_tab = await log_in(app, "bob"), await log_in(app, "carol")
    async with (
        bob_tab.websocket(GENERAL_LIVE, headers={"Origin": ORIGIN}) as bobs,
        carol_tab.websocket(GENERAL_LIVE, headers={"Origin": ORIGIN}) as carols,
        bob_tab.websocket("/rooms/other/live?after=0", headers={"Origin": ORIGIN}) as bob_inside,
    ):
        for ws in (bobs, carols, bob_inside):
            await drain(ws)
        async with app.app_context():
            await post_message(alice, other, "plain words", "client-notice-1")
            mention = await post_message(alice, other, "@bob & @carol <b>look</b>", "client-n-2")
        frames = await receive_until(bobs, "data-notice")
        frames += await drain(bobs)
        [notice] = notices(frames)  # level "mentions": only the one naming him
        assert notice == {
            "message-id": str(mention.id),
            "title": "alice in #Other",
            "body": "@bob & @carol <b>look</b>",
            "url": f"/messages/{mention.id}",
            "tag": f"room-{other.id}",
        }
        assert "<b>" not in frames  # escaped: plain text for notify.js
        assert "data-notice" not in await drain(carols)  # "none": the sidebar mark only
        assert "data-notice" not in await drain(bob_inside)  # that tab has the message itself
    await Membership.filter(user=bob, room=other).update(notify="all")
    async with bob_tab.websocket(GENERAL_LIVE, headers={"Origin": ORIGIN}) as bobs:
        await drain(bobs)
        async with app.app_context():
            await post_message(bob, other, "my own", "client-notice-3")
            await post_message(alice, other, "anything", "client-notice-4")
        frames = await receive_until(bobs, "data-notice")
        assert [n["body"] for n in notices(frames + await drain(bobs))] == ["anything"]


async def test_a_dm_notice_is_titled_by_its_author(
    app: Quart, alice: User, bob: User, general: Room
) -> None:
    async with app.app_context():
        dm = await open_direct(alice, [bob.id])
    bob_tab = await log_in(app, "bob")
    async with bob_tab.websocket(GENERAL_LIVE, headers={"Origin": ORIGIN}) as bobs:
        await drain(bobs)
        async with app.app_context():
            await post_message(alice, dm, "psst", "client-notice-5")
        [notice] = notices(await receive_until(bobs, "data-notice"))
    assert (notice["title"], notice["body"]) == ("alice", "psst")  # DMs default to "all"


async def test_a_conversations_dots_follow_its_peoples_presence(
    app: Quart, alice: User, bob: User, general: Room
) -> None:
    async with app.app_context():
        dm = await open_direct(alice, [bob.id])
    bob_tab, alice_tab = await log_in(app, "bob"), await log_in(app, "alice")
    async with bob_tab.websocket(GENERAL_LIVE, headers={"Origin": ORIGIN}) as bobs:
        await drain(bobs)
        async with alice_tab.websocket(GENERAL_LIVE, headers={"Origin": ORIGIN}) as alices:
            await drain(alices)
            online = await receive_until(bobs, "alice: online")
            assert 'title="alice: online"' in last_entry(online, dm)
