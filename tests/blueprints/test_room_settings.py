"""Room settings and members: who may change what, and a removed member losing the room at
once (their sockets to it close with 1008 and say why; their other rooms stay)."""

from __future__ import annotations

import asyncio

import pytest
from quart import Quart
from quart.testing import QuartClient

from chat_app.actions import register_user
from chat_app.actions.rooms import create_room_by
from chat_app.models import Membership, Room, User
from chat_app.models.rooms import RoomKind
from chat_app.realtime.hub import Hub
from tests.blueprints.test_live import drain, receive_until
from tests.conftest import ORIGIN, PASSWORD, csrf_from, log_in, send_frame


async def token(client: QuartClient) -> str:
    return csrf_from(await (await client.get("/browse")).get_data(as_text=True))


async def post(client: QuartClient, url: str, **form: str):  # type: ignore[no-untyped-def]
    return await client.post(url, form={**form, "csrf_token": await token(client)})


@pytest.fixture
async def ops(app: Quart, alice: User, bob: User) -> Room:
    """A private room of alice's (its admin) with bob in it."""
    async with app.app_context():
        room = await create_room_by(alice, "Ops", "pager duty", "private")
    await Membership.create(user=bob, room=room)
    return room


async def test_admins_rename_set_topic_and_make_a_room_open(
    alice_client: QuartClient, ops: Room
) -> None:
    page = await (await alice_client.get("/rooms/ops/settings")).get_data(as_text=True)
    assert 'id="room-settings"' in page and 'value="pager duty"' in page
    response = await post(
        alice_client, "/rooms/ops/settings", name="Operations", topic="on call", kind="open"
    )
    assert response.status_code == 303
    room = await Room.get(id=ops.id)
    assert (room.name, room.topic, room.kind, room.slug) == (
        "Operations",
        "on call",
        RoomKind.OPEN,
        "ops",
    )


async def test_members_see_members_and_add_people_but_change_nothing_else(
    app: Quart, bob_client: QuartClient, ops: Room
) -> None:
    carol = await User.create(username="carol", password_hash="x")
    page = await (await bob_client.get("/rooms/ops/settings")).get_data(as_text=True)
    assert 'id="room-settings"' not in page and "alice" in page and 'aria-label="Remove' not in page
    assert (await post(bob_client, "/rooms/ops/members", username="Carol")).status_code == 303
    assert await Membership.exists(user=carol, room=ops)
    for url, form in [
        ("/rooms/ops/settings", {"name": "Mine", "topic": "", "kind": "open"}),
        ("/rooms/ops/members/remove", {"user_id": str(carol.id)}),
        ("/rooms/ops/archive", {}),
    ]:
        assert (await post(bob_client, url, **form)).status_code == 403, url
    room = await Room.get(id=ops.id)
    assert (room.name, room.kind, room.archived_at) == ("Ops", RoomKind.PRIVATE, None)


async def test_outsiders_get_404_on_every_settings_path(
    app: Quart, ops: Room, general: Room
) -> None:
    await register_user("mallory", PASSWORD)
    mallory = await log_in(app, "mallory")
    csrf = await token(mallory)
    assert (await mallory.get("/rooms/ops/settings")).status_code == 404
    for url, form in [
        ("/rooms/ops/settings", {"name": "Pwned", "topic": "", "kind": "open"}),
        ("/rooms/ops/members", {"username": "mallory"}),
        ("/rooms/ops/members/remove", {"user_id": "1"}),
        ("/rooms/ops/archive", {}),
        ("/rooms/ops/leave", {}),
        ("/rooms/ops/join", {}),
    ]:
        response = await mallory.post(url, form={**form, "csrf_token": csrf})
        assert response.status_code == 404, url
    assert not await Membership.exists(user__username="mallory", room=ops)
    assert (await Room.get(id=ops.id)).name == "Ops"


@pytest.mark.parametrize("forged", ["999999", "-1", "abc", "", "1" * 40, "١٢", "0"])
async def test_forged_member_ids_are_404(alice_client: QuartClient, ops: Room, forged: str) -> None:
    response = await post(alice_client, "/rooms/ops/members/remove", user_id=forged)
    assert response.status_code == 404
    assert await Membership.filter(room=ops).count() == 2


async def test_a_member_of_another_room_cannot_be_removed_through_this_one(
    alice_client: QuartClient, ops: Room, general: Room
) -> None:
    stranger = await User.create(username="stranger", password_hash="x")
    await Membership.create(user=stranger, room=general)
    response = await post(alice_client, "/rooms/ops/members/remove", user_id=str(stranger.id))
    assert response.status_code == 404
    assert await Membership.exists(user=stranger, room=general)


@pytest.mark.parametrize(
    ("username", "error"),
    [("nobody", "nobody with that"), ("x" * 10_000, "nobody with that"), ("a\x00b", "nobody")],
)
async def test_adding_unknown_people_says_so(
    alice_client: QuartClient, ops: Room, username: str, error: str
) -> None:
    response = await post(alice_client, "/rooms/ops/members", username=username)
    assert response.status_code == 422
    assert error in await response.get_data(as_text=True)


async def test_hostile_settings_are_refused_with_reasons(
    alice_client: QuartClient, ops: Room
) -> None:
    for form, error in [
        ({"name": "x" * 10_000, "topic": "", "kind": "private"}, "1 to 100"),
        ({"name": "Ops", "topic": "\x07", "kind": "private"}, "control characters"),
        ({"name": "Ops", "topic": "", "kind": "direct"}, "either open"),
    ]:
        response = await post(alice_client, "/rooms/ops/settings", **form)
        assert response.status_code == 422
        assert error in await response.get_data(as_text=True)


async def test_general_stays_open_and_unarchived(app: Quart, alice: User, general: Room) -> None:
    await User.filter(id=alice.id).update(is_admin=True)
    admin = await log_in(app, "alice")
    response = await post(
        admin, "/rooms/general/settings", name="General", topic="", kind="private"
    )
    assert response.status_code == 422
    assert (await post(admin, "/rooms/general/archive")).status_code == 403
    assert (await Room.get(id=general.id)).kind == RoomKind.OPEN


async def test_archiving_keeps_the_room_readable_and_stops_posts(
    alice_client: QuartClient, ops: Room
) -> None:
    assert (await post(alice_client, "/rooms/ops/archive")).status_code == 303
    page = await (await alice_client.get("/rooms/ops")).get_data(as_text=True)
    assert "archived" in page
    assert (await Room.get(id=ops.id)).archived_at is not None


async def test_a_removed_member_loses_the_room_at_once_and_keeps_the_others(
    app: Quart,
    alice_client: QuartClient,
    bob_client: QuartClient,
    bob: User,
    ops: Room,
    general: Room,
) -> None:
    hub: Hub = app.extensions["hub"]
    headers = {"Origin": ORIGIN}
    async with (
        bob_client.websocket("/rooms/ops/live?after=0", headers=headers) as in_ops,
        bob_client.websocket("/rooms/general/live?after=0", headers=headers) as in_general,
    ):
        await drain(in_ops)
        await drain(in_general)
        (bobs_tab,) = [c for c in hub.sockets_in(ops.id) if c.user_id == bob.id]
        response = await post(alice_client, "/rooms/ops/members/remove", user_id=str(bob.id))
        assert response.status_code == 303
        said = await receive_until(in_ops, "You were removed from this room.")
        assert 'id="notice"' in said
        # 1008: the ws extension does not reconnect after it (a real socket sees the code in
        # tests/e2e/test_rooms_browser.py).
        assert (bobs_tab.close_code, bobs_tab.close_reason) == (
            1008,
            "You were removed from this room.",
        )
        async with asyncio.timeout(5):
            while bobs_tab in hub.sockets_in(ops.id):
                await asyncio.sleep(0.01)
        # The socket to #general still works.
        await in_general.send(send_frame("still here"))
        assert "still here" in await receive_until(in_general, "still here")
    for url in (
        "/rooms/ops",
        "/rooms/ops/history",
        "/api/rooms/ops/messages",
        "/rooms/ops/settings",
    ):
        assert (await bob_client.get(url)).status_code == 404, url
    assert (await bob_client.get("/rooms/general")).status_code == 200


async def test_leaving_closes_ones_own_other_tabs_of_that_room(
    bob_client: QuartClient, ops: Room
) -> None:
    async with bob_client.websocket("/rooms/ops/live?after=0", headers={"Origin": ORIGIN}) as ws:
        await drain(ws)
        assert (await post(bob_client, "/rooms/ops/leave")).status_code == 303
        assert "You left this room." in await receive_until(ws, "You left this room.")
