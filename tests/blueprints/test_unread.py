"""Unread marks and mentions: on page load (no JS), cleared by viewing, and live on every tab
of the member whatever room it shows, rendered once per audience."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from quart import Quart
from quart.testing import QuartClient

from chat_app.actions import edit_message, post_message
from chat_app.actions.rooms import join_room
from chat_app.models import Membership, Mention, Room, User
from chat_app.models.changes import newest_change
from chat_app.models.unread import Mark
from chat_app.realtime import streams
from tests.blueprints.test_live import ORIGIN, drain, receive_until
from tests.conftest import log_in
from tests.realtime.test_connection import recorded_tabs


def entry(html: str, room: Room) -> str:
    """The sidebar entry of ``room`` in a page or frame."""
    match = re.search(rf'<li id="room-link-{room.id}".*?</li>', html, re.S)
    assert match, f"no entry for {room.slug}"
    return match.group(0)


def read_frame(change: int | str) -> str:
    return json.dumps({"read": str(change), "HEADERS": {"HX-Request": "true"}})


@pytest.fixture
async def other(app: Quart, alice: User, bob: User) -> Room:
    async with app.app_context():
        room = await join_room(alice, "other", "Other")
        await join_room(bob, "other")
    return room


async def page(client: QuartClient, slug: str) -> str:
    response = await client.get(f"/rooms/{slug}")
    assert response.status_code == 200
    return await response.get_data(as_text=True)


async def test_unread_marks_show_on_page_load_and_viewing_clears_them(
    app: Quart, bob_client: QuartClient, alice: User, bob: User, general: Room, other: Room
) -> None:
    assert 'data-unread="false"' in entry(await page(bob_client, "general"), other)
    async with app.app_context():
        first = await post_message(alice, other, "hello bob", "client-unread-01")
        await post_message(alice, other, "hey @bob, look", "client-unread-02")
        await post_message(alice, other, "and @everyone", "client-unread-03")  # not an admin
    mark = entry(await page(bob_client, "general"), other)
    assert 'data-unread="true"' in mark and "font-bold" in mark
    assert 'data-role="unread-count">1<' in mark  # one mention; @everyone was plain text
    shown = await page(bob_client, "other")
    # The divider stands right before the first unread message; the room is read now.
    assert re.search(rf'id="unread-divider".*?\s*<div id="message-{first.id}"', shown, re.S)
    assert 'data-unread="false"' in entry(shown, other)
    membership = await Membership.get(user_id=bob.id, room_id=other.id)
    assert membership.last_read_change == await newest_change(other.id)
    assert 'data-unread="false"' in entry(await page(bob_client, "general"), other)
    assert 'id="unread-divider"' not in await page(bob_client, "other")


async def test_own_messages_and_a_new_members_history_are_not_unread(
    app: Quart, alice_client: QuartClient, alice: User, general: Room, other: Room
) -> None:
    async with app.app_context():
        await post_message(alice, other, "mine", "client-unread-04")
        carol = await User.create(username="carol", password_hash="x")
        await join_room(carol, "other")
    assert 'data-unread="false"' in entry(await page(alice_client, "general"), other)
    assert (await Membership.get(user_id=carol.id, room_id=other.id)).last_read_change == (
        await newest_change(other.id)
    )


async def test_a_new_message_marks_the_room_on_the_members_tabs_elsewhere_and_reading_clears_it(
    app: Quart, alice: User, bob: User, general: Room, other: Room
) -> None:
    bob_one, bob_two = await log_in(app, "bob"), await log_in(app, "bob")
    general_live = "/rooms/general/live?after=0"
    async with (
        bob_one.websocket(general_live, headers={"Origin": ORIGIN}) as in_general,
        bob_two.websocket("/rooms/other/live?after=0", headers={"Origin": ORIGIN}) as in_other,
    ):
        await drain(in_general)
        await drain(in_other)
        async with app.app_context():
            await post_message(alice, other, "psst @bob", "client-unread-05")
        frame = await receive_until(in_general, f'id="room-link-{other.id}"')
        mark = entry(frame, other)
        assert 'data-unread="true"' in mark and 'data-role="unread-count">1<' in mark
        shown = await receive_until(in_other, "psst")
        assert f'id="room-link-{other.id}"' not in shown + await drain(in_other)  # looking at it
        # The tab in #other, visible, reports what it showed: the tab in #general clears.
        await in_other.send(read_frame(await newest_change(other.id)))
        cleared = entry(await receive_until(in_general, f'id="room-link-{other.id}"'), other)
        assert 'data-unread="false"' in cleared and "unread-count" not in cleared


async def test_a_read_receipt_never_goes_beyond_what_the_tab_was_sent_nor_backwards(
    app: Quart, bob_client: QuartClient, alice: User, bob: User, general: Room
) -> None:
    async with app.app_context():
        await post_message(alice, general, "one", "client-unread-06")
    cursor = await newest_change(general.id)
    await Membership.filter(user_id=bob.id).update(last_read_change=0)
    async with bob_client.websocket(
        f"/rooms/general/live?after={cursor}", headers={"Origin": ORIGIN}
    ) as ws:
        await drain(ws)
        await ws.send(read_frame(cursor + 1000))  # forged: clamped to what it was sent
        await ws.send(read_frame("nonsense"))
        assert "not understood" in await receive_until(ws, "not understood")
        await ws.send(read_frame(1))  # late: changes nothing
        await drain(ws)
    assert (await Membership.get(user_id=bob.id, room_id=general.id)).last_read_change == cursor


async def test_the_sidebar_entry_is_rendered_once_per_audience_not_per_socket(
    app: Quart, alice: User, general: Room, other: Room, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = []
    async with app.app_context():
        for name in ("carol", "dave", "erin"):
            user = await User.create(username=name, password_hash="x")
            await join_room(user, "general")
            await join_room(user, "other")
            users.append(user)
    renders: list[Mark] = []
    real = streams.render_room_link

    async def counted(room: Room, mark: Mark, *args: Any, **kwargs: Any) -> str:
        renders.append(mark)
        return await real(room, mark, *args, **kwargs)

    monkeypatch.setattr(streams, "render_room_link", counted)
    hub = app.extensions["hub"]
    with recorded_tabs(hub, users, general.id, 2) as sockets:  # two tabs each, in #general
        async with app.app_context():
            await post_message(alice, other, "hi @carol", "client-unread-07")
        async with asyncio.timeout(5):
            while not all(socket.frames for _, socket, _ in sockets):
                await asyncio.sleep(0.02)
        assert sorted(renders, key=lambda m: m.count) == [Mark(True, 0), Mark(True, 1)]
        for user, socket, _ in sockets:
            text = "".join(socket.frames)
            assert ('unread-count">1<' in text) == (user.username == "carol")


async def test_mentions_are_written_with_the_post_and_rewritten_by_an_edit(
    app: Quart, alice: User, bob: User, general: Room
) -> None:
    async with app.app_context():
        message = await post_message(alice, general, "@Bob, @nobody and bob@mail", "client-m-01")
        assert await Mention.filter(message_id=message.id).values_list("user_id", flat=True) == [
            bob.id
        ]
        await edit_message(alice, message.id, "never mind")
        assert not await Mention.exists(message_id=message.id)
        alice.is_admin = True
        await edit_message(alice, message.id, "@everyone: lunch")
    rows = await Mention.filter(message_id=message.id).values_list("user_id", "change")
    assert rows == [(None, await newest_change(general.id))]


async def test_mentions_are_highlighted_and_hostile_text_stays_inert(
    app: Quart, bob_client: QuartClient, alice: User, bob: User, general: Room
) -> None:
    async with app.app_context():
        await post_message(
            alice, general, 'hi @bob. @<script>x</script> @bob"onmouseover=', "client-m-02"
        )
    html = await page(bob_client, "general")
    assert f'<span class="mention mention-me" data-user="{bob.id}">@bob</span>.' in html
    assert "@&lt;script&gt;x&lt;/script&gt;" in html
    # A quote in text is only text: the sanitiser's serialiser leaves it as it is.
    assert f'data-user="{bob.id}">@bob</span>"onmouseover=' in html
    assert "<script>x" not in html


async def test_suggestions_list_room_members_and_everyone_only_for_admins(
    app: Quart, alice_client: QuartClient, bob_client: QuartClient, alice: User, general: Room
) -> None:
    response = await bob_client.get("/rooms/general/members?q=al")
    text = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'role="listbox"' in text and 'data-username="alice"' in text
    assert 'data-username="bob"' not in text
    assert "everyone" not in text.split('role="status"')[0]
    assert 'data-username="everyone"' not in await (
        await bob_client.get("/rooms/general/members?q=ev")
    ).get_data(as_text=True)
    await User.filter(id=alice.id).update(is_admin=True)
    admin = await (await alice_client.get("/rooms/general/members?q=e")).get_data(as_text=True)
    assert 'data-username="everyone"' in admin
    hostile = await bob_client.get("/rooms/general/members?q=%3Cscript%3E")
    assert "<script>" not in await hostile.get_data(as_text=True)
    await Room.create(slug="secret", name="Secret")
    assert (await bob_client.get("/rooms/secret/members?q=a")).status_code == 404
