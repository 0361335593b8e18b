"""Presence across sockets and nodes, typing indicators, and the presence JSON API."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from quart import Quart
from quart.testing import QuartClient

from chat_app.actions import register_user
from chat_app.actions.presence import prune_presence
from chat_app.housekeeping import housekeep, housekeep_forever
from chat_app.models import LiveSocket, Room, User, UserPresence
from chat_app.realtime.streams import typing_text
from tests.blueprints.test_live import LIVE, drain, live_pair, receive_until
from tests.conftest import ORIGIN, PASSWORD, csrf_from, log_in, send_frame

TYPING = json.dumps({"typing": 1, "HEADERS": {}})
HEARTBEAT = json.dumps({"heartbeat": 1, "HEADERS": {}})


def status_of(people_html: str, username: str) -> str:
    """'online' / 'offline' as the last people list in ``people_html`` shows ``username``."""
    last_list = people_html[people_html.rindex('<ul id="people"') :]
    entry = re.search(
        r'<li id="presence-\d+" data-online="(true|false)">(?:(?!</li>).)*?'
        rf"<span>{username}</span>",
        last_list,
        re.S,
    )
    assert entry, f"{username} not in the people list"
    return "online" if entry.group(1) == "true" else "offline"


@pytest.fixture
async def tuned(app: Quart) -> AsyncIterator[Quart]:
    """Short presence and typing timeouts for this test, restored afterwards.

    The app's background housekeeping pauses meanwhile: with a 0.3 s idle limit, a round of it
    falling inside the test would close the sockets the test is still reading."""
    saved = dict(app.config)
    app.extensions["housekeeping"].cancel()
    app.config.update(SOCKET_IDLE_SECONDS=0.3, TYPING_TTL_SECONDS=0.4)
    yield app
    app.config.update(saved)
    app.extensions["housekeeping"] = asyncio.create_task(housekeep_forever(app))


async def test_people_list_follows_sockets_of_the_same_user(
    alice_client: QuartClient, bob_client: QuartClient, alice: User, general: Room
) -> None:
    async with bob_client.websocket(LIVE, headers={"Origin": ORIGIN}) as bob_ws:
        await drain(bob_ws)
        async with alice_client.websocket(LIVE, headers={"Origin": ORIGIN}) as tab_one:
            assert status_of(await receive_until(bob_ws, "alice"), "alice") == "online"
            async with alice_client.websocket(LIVE, headers={"Origin": ORIGIN}) as tab_two:
                await tab_two.send(HEARTBEAT)
                await drain(tab_one)
                assert '<ul id="people"' not in await drain(bob_ws)  # no change to show
                assert await LiveSocket.filter(user=alice).count() == 2
            await asyncio.sleep(0.2)
            assert '<ul id="people"' not in await drain(bob_ws)  # one tab left: still online
            assert (await UserPresence.get(user=alice)).is_online
        offline = await receive_until(bob_ws, "last seen")
        assert status_of(offline, "alice") == "offline"
    assert not (await UserPresence.get(user=alice)).is_online
    assert await LiveSocket.all().count() == 0


@pytest.fixture
def listing_two(app: Quart) -> Iterator[None]:
    """People lists show only a room's first two members by name, for this test."""
    saved = app.config["PRESENCE_FULL_LIST_MAX"]
    app.config["PRESENCE_FULL_LIST_MAX"] = 2
    yield
    app.config["PRESENCE_FULL_LIST_MAX"] = saved


async def test_a_large_rooms_page_lists_its_first_members_and_counts_them_all(
    listing_two: None, alice_client: QuartClient, bob: User, general: Room
) -> None:
    carol = await register_user("carol", PASSWORD)
    await UserPresence.create(user=carol, is_online=True)
    page = await (await alice_client.get("/rooms/general")).get_data(as_text=True)
    listed = page[page.index('<ul id="people"') : page.index("</ul>", page.index('id="people"'))]
    assert f'id="presence-{bob.id}"' in listed
    assert f'id="presence-{carol.id}"' not in listed  # third by name
    assert '<span id="people-count">3 members, 1 online</span>' in page
    assert 'href="/rooms/general/settings#room-members">All members</a>' in page
    settings = await (await alice_client.get("/rooms/general/settings")).get_data(as_text=True)
    assert "carol" in settings  # where everyone is


async def test_a_small_rooms_page_lists_everyone_with_no_link(
    alice_client: QuartClient, bob: User, general: Room
) -> None:
    page = await (await alice_client.get("/rooms/general")).get_data(as_text=True)
    assert f'id="presence-{bob.id}"' in page
    assert '<span id="people-count">2 members, 0 online</span>' in page
    assert "All members" not in page


async def test_a_large_room_pushes_the_counts_and_only_listed_entries(
    app: Quart,
    listing_two: None,
    alice_client: QuartClient,
    bob_client: QuartClient,
    alice: User,
    general: Room,
) -> None:
    carol = await register_user("carol", PASSWORD)
    carol_client = await log_in(app, "carol")
    async with bob_client.websocket(LIVE, headers={"Origin": ORIGIN}) as bob_ws:
        await drain(bob_ws)
        async with alice_client.websocket(LIVE, headers={"Origin": ORIGIN}):
            pushed = await receive_until(bob_ws, "2 online")
            assert f'<li id="presence-{alice.id}" data-online="true">' in pushed
            assert '<ul id="people"' not in pushed
            async with carol_client.websocket(LIVE, headers={"Origin": ORIGIN}):
                pushed = await receive_until(bob_ws, "3 online")
                assert f'id="presence-{carol.id}"' not in pushed  # not listed
                assert '<span id="people-count">3 members, 3 online</span>' in pushed


async def test_a_tab_back_in_a_large_room_gets_only_what_changed_while_it_was_away(
    app: Quart, alice_client: QuartClient, bob_client: QuartClient, bob: User, general: Room
) -> None:
    carol = await register_user("carol", PASSWORD)  # offline for an hour
    await UserPresence.create(user=carol, last_seen=datetime.now(UTC) - timedelta(hours=1))
    await register_user("dave", PASSWORD)  # not listed
    saved = app.config["PRESENCE_FULL_LIST_MAX"]
    app.config["PRESENCE_FULL_LIST_MAX"] = 3
    try:
        async with bob_client.websocket(LIVE, headers={"Origin": ORIGIN}) as bob_ws:
            await drain(bob_ws)  # bob came online just now
            back = f"{LIVE}&away=30"
            async with alice_client.websocket(back, headers={"Origin": ORIGIN}) as alice_ws:
                caught_up = await drain(alice_ws)
            assert f'id="presence-{bob.id}"' in caught_up
            assert f'id="presence-{carol.id}"' not in caught_up  # unchanged for an hour
            assert '<ul id="people"' not in caught_up
            assert '<span id="people-count">4 members, 2 online</span>' in caught_up
            async with alice_client.websocket(LIVE, headers={"Origin": ORIGIN}) as alice_ws:
                whole = await drain(alice_ws)  # no away: the whole list
            assert '<ul id="people"' in whole
            assert f'id="presence-{carol.id}"' in whole
    finally:
        app.config["PRESENCE_FULL_LIST_MAX"] = saved


async def test_a_tab_away_during_many_changes_gets_only_the_latest_of_them(
    app: Quart, alice_client: QuartClient, general: Room
) -> None:
    earliest = datetime.now(UTC) - timedelta(seconds=60)
    for n in range(5):
        user = await register_user(f"member{n}", PASSWORD)
        await UserPresence.create(user=user, last_seen=earliest + timedelta(seconds=n))
    saved = dict(app.config)
    app.config.update(PRESENCE_FULL_LIST_MAX=5, PRESENCE_CATCH_UP_MAX=2)
    try:
        url = f"{LIVE}&away=120"
        async with alice_client.websocket(url, headers={"Origin": ORIGIN}) as ws:
            caught_up = await drain(ws)
    finally:
        app.config.update(saved)
    # The latest two changes of those listed (alice, member0 to member3): alice's own (she
    # just came online) and member3's; member4's is later, but member4 is not listed.
    assert "member3" in caught_up
    assert not any(f"member{n}" in caught_up for n in (0, 1, 2, 4))


@pytest.mark.parametrize("away", ["-5", "1e9", "x", "99999999", "%00"])
async def test_a_nonsense_away_gets_the_whole_list(
    app: Quart, alice_client: QuartClient, general: Room, away: str
) -> None:
    saved = app.config["PRESENCE_FULL_LIST_MAX"]
    app.config["PRESENCE_FULL_LIST_MAX"] = 0  # every room is large
    try:
        url = f"{LIVE}&away={away}"
        async with alice_client.websocket(url, headers={"Origin": ORIGIN}) as ws:
            assert '<ul id="people"' in await drain(ws)
    finally:
        app.config["PRESENCE_FULL_LIST_MAX"] = saved


async def test_a_socket_that_stops_heartbeating_goes_offline(
    tuned: Quart, alice_client: QuartClient, bob_client: QuartClient, alice: User, general: Room
) -> None:
    async with live_pair(alice_client, bob_client, settled=True) as (_alice_ws, bob_ws):
        await asyncio.sleep(0.4)  # both silent past the idle limit …
        await bob_ws.send(HEARTBEAT)  # … but bob's tab heartbeats
        await asyncio.sleep(0.05)
        await housekeep(tuned)
        assert status_of(await receive_until(bob_ws, "last seen"), "alice") == "offline"
        await bob_ws.send(send_frame("bob is still connected"))
        await receive_until(bob_ws, "bob is still connected")
    assert not (await UserPresence.get(user=alice)).is_online


async def test_sockets_of_a_dead_node_expire(app: Quart, alice: User, general: Room) -> None:
    await UserPresence.create(user=alice, is_online=True)
    await LiveSocket.create(id="from-a-dead-node", user=alice, room=general, node="gone")
    await LiveSocket.filter(id="from-a-dead-node").update(
        seen_at=datetime.now(UTC) - timedelta(seconds=90)
    )
    async with app.app_context():
        assert await prune_presence(timedelta(seconds=45)) == [alice.id]
        assert await prune_presence(timedelta(seconds=45)) == []  # idempotent
    assert not (await UserPresence.get(user=alice)).is_online
    assert await LiveSocket.all().count() == 0


async def test_typing_reaches_others_not_the_typist_and_clears_on_send(
    alice_client: QuartClient, bob_client: QuartClient, general: Room
) -> None:
    async with live_pair(alice_client, bob_client, settled=True) as (alice_ws, bob_ws):
        await alice_ws.send(TYPING)
        assert "alice is typing…" in await receive_until(bob_ws, 'id="typing"')
        assert "is typing" not in await drain(alice_ws)
        await alice_ws.send(TYPING)  # within 2 s: throttled, nothing new goes out
        assert 'id="typing"' not in await drain(bob_ws)
        await alice_ws.send(send_frame("done typing"))
        cleared = await receive_until(bob_ws, "done typing")
        cleared += await drain(bob_ws)
        assert re.search(r'<div id="typing"[^>]*></div>', cleared)


async def test_typing_clears_by_itself_without_another_event(
    tuned: Quart, alice_client: QuartClient, bob_client: QuartClient, general: Room
) -> None:
    async with live_pair(alice_client, bob_client, settled=True) as (alice_ws, bob_ws):
        await alice_ws.send(TYPING)
        assert "alice is typing…" in await receive_until(bob_ws, "alice is typing")
        expired = await receive_until(bob_ws, 'id="typing"', timeout=2)
        assert re.search(r'<div id="typing"[^>]*></div>', expired)


async def test_typing_clears_when_the_typist_leaves(
    alice_client: QuartClient, bob_client: QuartClient, general: Room
) -> None:
    async with bob_client.websocket(LIVE, headers={"Origin": ORIGIN}) as bob_ws:
        async with alice_client.websocket(LIVE, headers={"Origin": ORIGIN}) as alice_ws:
            await drain(alice_ws)
            await alice_ws.send(TYPING)
            await receive_until(bob_ws, "alice is typing")
        left = await receive_until(bob_ws, "last seen")
        assert re.search(r'<div id="typing"[^>]*></div>', left)


def test_typing_line_wording() -> None:
    assert typing_text([]) == ""
    assert typing_text(["alice"]) == "alice is typing…"
    assert typing_text(["alice", "bob"]) == "alice and bob are typing…"
    assert typing_text(["alice", "bob", "carol"]) == "Several people are typing…"


async def _csrf(client: QuartClient) -> dict[str, str]:
    page = await (await client.get("/rooms/general")).get_data(as_text=True)
    return {"X-CSRF-Token": csrf_from(page)}


async def test_presence_api_lists_people_you_share_a_room_with(
    app: Quart, alice_client: QuartClient, bob: User, general: Room
) -> None:
    await Room.create(slug="elsewhere", name="Elsewhere")
    stranger = await register_user("stranger", PASSWORD)
    await stranger.memberships.all().delete()  # in no room with alice
    body = await (await alice_client.get("/api/presence")).get_json()
    assert [u["username"] for u in body["users"]] == ["alice", "bob"]
    assert body["users"][1] == {
        "username": "bob",
        "online": False,
        "status": "online",
        "last_seen": None,
    }


async def test_presence_api_sets_away_and_back(alice_client: QuartClient, general: Room) -> None:
    headers = await _csrf(alice_client)
    response = await alice_client.post("/api/presence", json={"status": "away"}, headers=headers)
    assert response.status_code == 200
    me = next(u for u in (await response.get_json())["users"] if u["username"] == "alice")
    assert me["status"] == "away"
    back = await alice_client.post("/api/presence", json={"status": "online"}, headers=headers)
    assert back.status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"status": "invisible"}', "application/json"),
        ('{"status": "<script>alert(1)</script>"}', "application/json"),
        ('{"status": null}', "application/json"),
        ("{}", "application/json"),
        ('["away"]', "application/json"),
        ('"away"', "application/json"),
        ("{not json", "application/json"),
        ("status=away", "text/plain"),
        ('{"status": "' + "a" * 100_000 + '"}', "application/json"),
    ],
)
async def test_presence_api_rejects_bad_input_with_400(
    alice_client: QuartClient, general: Room, body: str, content_type: str
) -> None:
    headers = await _csrf(alice_client) | {"Content-Type": content_type}
    response = await alice_client.post("/api/presence", data=body, headers=headers)
    assert response.status_code == 400
    assert (
        "status" in (await response.get_json())["error"]["message"]
        or "JSON" in (await response.get_json())["error"]["message"]
    )


async def test_presence_api_needs_csrf_token_and_login(
    client: QuartClient, alice_client: QuartClient, general: Room
) -> None:
    refused = await alice_client.post("/api/presence", json={"status": "away"})
    assert refused.status_code == 403
    assert (await client.get("/api/presence")).status_code == 401
