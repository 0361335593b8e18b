"""The websocket: handshake checks, two live users, bad frames, hostile content, catch-up."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import html
import json
import re
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import asyncpg
import pytest
from quart import Quart
from quart.testing import QuartClient, WebsocketResponseError

from chat_app.actions import post_message, toggle_reaction
from chat_app.actions.messages import Posted
from chat_app.blueprints import live
from chat_app.models import AuthSession, Message, Room, User
from chat_app.models.changes import newest_change
from tests.conftest import ORIGIN, csrf_from, queries_made, send_frame

LIVE = "/rooms/general/live?after=0"  # a page always says what it has; 0 = nothing


async def receive(ws, timeout: float = 5.0) -> str:  # type: ignore[no-untyped-def]
    frame = await asyncio.wait_for(ws.receive(), timeout)
    assert isinstance(frame, str)
    return frame


async def receive_until(ws, needle: str, timeout: float = 5.0) -> str:  # type: ignore[no-untyped-def]
    """Frames until one contains ``needle``; all of them joined."""
    seen = ""
    async with asyncio.timeout(timeout):
        while needle not in seen:
            seen += await receive(ws)
    return seen


def parse_elements(fragment: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every element (tag and attributes) a browser would build from ``fragment``."""
    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    Collector().feed(fragment)
    return found


async def drain(ws, quiet: float = 0.3) -> str:  # type: ignore[no-untyped-def]
    """Everything the server sends until it has been quiet for ``quiet`` seconds."""
    seen = ""
    while True:
        try:
            seen += await asyncio.wait_for(ws.receive(), quiet)
        except TimeoutError:
            return seen


@asynccontextmanager
async def live_pair(
    alice_client: QuartClient, bob_client: QuartClient, settled: bool = False
) -> AsyncIterator[tuple[Any, Any]]:
    """Alice's and Bob's sockets in #general; ``settled``: after the arrivals' presence news."""
    async with (
        alice_client.websocket(LIVE, headers={"Origin": ORIGIN}) as alice_ws,
        bob_client.websocket(LIVE, headers={"Origin": ORIGIN}) as bob_ws,
    ):
        if settled:
            await drain(alice_ws)
            await drain(bob_ws)
        yield alice_ws, bob_ws


async def no_more_messages(ws, quiet: float = 0.3) -> None:  # type: ignore[no-untyped-def]
    """Nothing else the server sends (presence, typing) carries a message."""
    assert 'id="message-' not in await drain(ws, quiet)


async def test_two_users_see_each_message_once_and_the_sender_gets_their_own(
    alice_client: QuartClient, bob_client: QuartClient, general: Room
) -> None:
    async with live_pair(alice_client, bob_client) as (alice_ws, bob_ws):
        await alice_ws.send(send_frame("hello bob"))
        to_bob = await receive_until(bob_ws, "hello bob")
        to_alice = await receive_until(alice_ws, "hello bob")
        message = await Message.get(content="hello bob")
        assert '<div id="messages" hx-swap-oob="beforeend" data-change="' in to_bob
        assert f'id="message-{message.id}" class="chat chat-start ' in to_bob
        assert f'id="message-{message.id}" class="chat chat-end ' in to_alice
        assert to_bob.count(f'id="message-{message.id}"') == 1
        # The sender gets its own copy at once, then the change, which replaces it in place
        # (chat.js): twice on the wire, once on the page, and only the change moves the cursor.
        to_alice += await drain(alice_ws)
        assert to_alice.count(f'id="message-{message.id}"') == 2
        assert to_alice.count('id="change-cursor"') == 1
        await no_more_messages(bob_ws)
        await bob_ws.send(send_frame("hi alice"))
        assert "hi alice" in await receive_until(alice_ws, "hi alice")
    assert await Message.all().count() == 2


async def test_handshake_without_session_is_refused(client: QuartClient, general: Room) -> None:
    with pytest.raises(WebsocketResponseError) as refused:
        async with client.websocket(LIVE, headers={"Origin": ORIGIN}) as ws:
            await ws.receive()
    assert refused.value.response.status_code == 401


@pytest.mark.parametrize("ended", ["expired", "revoked", "deactivated"])
async def test_handshake_whose_session_ended_is_refused_401_even_in_a_room_of_theirs(
    alice_client: QuartClient, alice: User, general: Room, ended: str
) -> None:
    match ended:
        case "expired":
            await AuthSession.filter(user_id=alice.id).update(
                expires_at=datetime.now(UTC) - timedelta(seconds=1)
            )
        case "revoked":
            await AuthSession.filter(user_id=alice.id).delete()
        case "deactivated":
            await User.filter(id=alice.id).update(is_active=False)
    with pytest.raises(WebsocketResponseError) as refused:
        async with alice_client.websocket(LIVE, headers={"Origin": ORIGIN}) as ws:
            await ws.receive()
    assert refused.value.response.status_code == 401


async def test_a_handshake_finds_the_session_and_the_room_in_one_query(
    alice_client: QuartClient, general: Room
) -> None:
    with queries_made() as queries:
        async with alice_client.websocket(LIVE, headers={"Origin": ORIGIN}) as ws:
            await receive(ws)
    [lookup] = [query for query in queries if "auth_sessions" in query]
    assert "memberships" in lookup and "rooms" in lookup


@pytest.mark.parametrize(
    "origin",
    [
        None,
        "null",
        "https://evil.example",
        "http://localhost.evil.example",
        "http://localhost:8080",
        "https://localhost",
        "http://localhost/path",
    ],
)
async def test_handshake_from_another_origin_is_refused(
    alice_client: QuartClient, general: Room, origin: str | None
) -> None:
    headers = {} if origin is None else {"Origin": origin}
    with pytest.raises(WebsocketResponseError) as refused:
        async with alice_client.websocket(LIVE, headers=headers) as ws:
            await ws.receive()
    assert refused.value.response.status_code == 403


async def test_handshake_to_a_room_you_are_not_in_is_404(
    alice_client: QuartClient, general: Room
) -> None:
    await Room.create(slug="secret", name="Secret")
    with pytest.raises(WebsocketResponseError) as refused:
        async with alice_client.websocket("/rooms/secret/live", headers={"Origin": ORIGIN}) as ws:
            await ws.receive()
    assert refused.value.response.status_code == 404


@pytest.mark.parametrize(
    ("frame", "notice"),
    [
        (b"\x00\x01binary", "Only text frames"),
        # An empty binary frame cannot go through the test client; tests/test_server.py sends it.
        ("", "not understood"),
        ("{not json", "not understood"),
        ("[1, 2, 3]", "not understood"),
        ('"just a string"', "not understood"),
        ('{"HEADERS": {}}', "Unknown request"),
    ],
)
async def test_bad_frames_get_a_notice_and_the_socket_keeps_working(
    alice_client: QuartClient, general: Room, frame: str | bytes, notice: str
) -> None:
    async with alice_client.websocket(LIVE, headers={"Origin": ORIGIN}) as ws:
        await ws.send(frame)
        reply = await receive_until(ws, notice)
        assert '<div id="notice"' in reply
        await ws.send(send_frame("still alive"))
        assert "still alive" in await receive_until(ws, "still alive")


async def test_invalid_message_shows_error_at_composer_and_keeps_text(
    alice_client: QuartClient, general: Room
) -> None:
    async with alice_client.websocket(LIVE, headers={"Origin": ORIGIN}) as ws:
        await ws.send(send_frame("   "))
        reply = await receive_until(ws, 'id="composer-error"')
        assert "Write something before sending." in reply
        await ws.send(send_frame("y" * 4001))
        reply = await receive_until(ws, "at most 4,000 characters")
        assert "y" * 4001 in reply
    assert await Message.all().count() == 0


HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<div hx-get="/logout" hx-trigger="load">click</div>',
    '"><svg onload=alert(1)>',
    "{{ 7*7 }} {% raw %}",
]


@pytest.mark.parametrize("payload", HOSTILE)
async def test_hostile_content_arrives_escaped(
    alice_client: QuartClient, bob_client: QuartClient, general: Room, payload: str
) -> None:
    async with live_pair(alice_client, bob_client) as (alice_ws, bob_ws):
        await drain(bob_ws)  # presence updates of the two arrivals
        await alice_ws.send(send_frame("harmless"))
        harmless = parse_elements(await receive_until(bob_ws, "chat-bubble"))
        await drain(bob_ws)  # nothing else (a presence update) may join the next frame
        await alice_ws.send(send_frame(payload))
        frame = await receive_until(bob_ws, "chat-bubble")
    # The payload adds no element and no attribute to what any message is made of.
    elements = parse_elements(frame)
    assert {tag for tag, _ in elements} == {tag for tag, _ in harmless}
    attributes = {name for _, attrs in elements for name, _ in attrs}
    assert attributes == {name for _, attrs in harmless for name, _ in attrs}
    assert payload in html.unescape(frame)
    assert (await Message.get(content__not="harmless")).content == payload  # escaped on output


async def test_catch_up_replays_what_was_missed_exactly_once(
    app: Quart, alice_client: QuartClient, alice: User, bob: User, general: Room
) -> None:
    async with app.app_context():
        await post_message(bob, general, "seen before disconnect", "client-seen-01")
        seen = await newest_change(general.id)
        missed = [
            await post_message(bob, general, f"missed {n}", f"client-miss-{n:02d}")
            for n in range(3)
        ]
    async with alice_client.websocket(
        f"/rooms/general/live?after={seen}", headers={"Origin": ORIGIN}
    ) as ws:
        replay = await receive_until(ws, f"message-{missed[-1].id}")
        ids = [int(i) for i in re.findall(r'id="message-(\d+)"', replay)]
        assert ids == [m.id for m in missed]
        await no_more_messages(ws)


async def test_live_events_are_not_repeated_after_catch_up(
    app: Quart, alice_client: QuartClient, alice: User, bob: User, general: Room
) -> None:
    async with app.app_context():
        first = await post_message(bob, general, "first", "client-first-01")
    async with alice_client.websocket(LIVE, headers={"Origin": ORIGIN}) as ws:
        await receive_until(ws, f"message-{first.id}")
        async with app.app_context():
            second = await post_message(bob, general, "second", "client-second-1")
        frames = await receive_until(ws, f"message-{second.id}")
        await asyncio.sleep(0.2)
        assert f"message-{first.id}" not in frames
        await no_more_messages(ws)


async def test_retried_frame_is_stored_and_broadcast_once(
    alice_client: QuartClient, bob_client: QuartClient, general: Room
) -> None:
    async with live_pair(alice_client, bob_client) as (alice_ws, bob_ws):
        frame = send_frame("sent twice", client_id="retry-client-01")
        await alice_ws.send(frame)
        await alice_ws.send(frame)
        await receive_until(bob_ws, "sent twice")
        await no_more_messages(bob_ws, 0.5)
        # each try is confirmed to the sender with the stored copy; the change comes once
        to_alice = await drain(alice_ws)
        assert to_alice.count("sent twice") == 3
        assert to_alice.count('id="change-cursor"') == 1
    assert await Message.filter(content="sent twice").count() == 1


async def test_a_retry_is_confirmed_with_the_reactions_its_message_has_by_then(
    app: Quart, alice_client: QuartClient, bob_client: QuartClient, bob: User, general: Room
) -> None:
    async with live_pair(alice_client, bob_client) as (alice_ws, bob_ws):
        frame = send_frame("liked before the retry", client_id="retry-client-02")
        await alice_ws.send(frame)
        await receive_until(bob_ws, "liked before the retry")
        first = await drain(alice_ws)
        assert 'class="reaction ' not in first  # a message stored just now has none
        message = await Message.get(content="liked before the retry")
        async with app.app_context():
            await toggle_reaction(bob, message.id, "🎉")
        await drain(alice_ws)  # the reaction's change
        await alice_ws.send(frame)  # chat.js's retry: the stored copy, as it is now
        confirmed = await receive_until(alice_ws, "liked before the retry")
    assert 'class="reaction ' in confirmed and "🎉" in confirmed


async def test_frames_are_json_as_htmx_sends_them(alice_client: QuartClient, general: Room) -> None:
    frame = json.loads(send_frame("shape"))
    assert set(frame) == {"csrf_token", "client_id", "content", "HEADERS"}


async def test_a_frame_flood_gets_a_notice_and_only_a_burst_is_processed(
    alice_client: QuartClient, general: Room
) -> None:
    async with alice_client.websocket(LIVE, headers={"Origin": ORIGIN}) as ws:
        for n in range(45):
            await ws.send(send_frame(f"flood {n}"))
        await receive_until(ws, "You are sending too fast: some of what you sent was dropped")
    assert await Message.all().count() <= 10 + 1  # the message burst (plus a refill or so)


async def test_an_eleventh_socket_of_one_user_is_refused_with_429(
    alice_client: QuartClient, general: Room
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(10):
            ws = await stack.enter_async_context(
                alice_client.websocket(LIVE, headers={"Origin": ORIGIN})
            )
            await ws.send('{"HEADERS": {}}')
            await receive_until(ws, "Unknown request")  # accepted and attached
        with pytest.raises(WebsocketResponseError) as refused:
            async with alice_client.websocket(LIVE, headers={"Origin": ORIGIN}) as ws:
                await ws.receive()
        assert refused.value.response.status_code == 429


async def test_a_database_failure_answers_the_frame_and_the_socket_reads_on(
    alice_client: QuartClient,
    bob_client: QuartClient,
    general: Room,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failures = {"post": 2, "typing": 1}
    real_post = live.post

    async def post_while_down(*args: Any) -> Posted:
        if failures["post"]:
            failures["post"] -= 1
            raise ConnectionRefusedError(111, "Connection refused")
        return await real_post(*args)

    async def typing_while_down(*args: Any) -> bool:
        failures["typing"] -= 1
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

    monkeypatch.setattr(live, "post", post_while_down)
    monkeypatch.setattr(live, "signal_typing", typing_while_down)
    frame = send_frame("saved later", client_id="outage-client-01")
    async with live_pair(alice_client, bob_client, settled=True) as (alice_ws, bob_ws):
        await alice_ws.send(json.dumps({"typing": "1", "HEADERS": {}}))
        await alice_ws.send(frame)
        unsaved = await receive_until(alice_ws, "Not saved yet")
        # Only the pending copy's state line is swapped; chat.js keeps the copy and resends.
        assert 'hx-swap-oob="innerHTML:#pending-outage-client-01 .pending-state"' in unsaved
        assert "composer" not in unsaved  # the composer is not reset: nothing was rejected
        await alice_ws.send(frame)  # chat.js's retry, the database still away
        await receive_until(alice_ws, "Not saved yet")
        await alice_ws.send(frame)  # and once it is back
        await receive_until(bob_ws, "saved later")
        await receive_until(alice_ws, 'data-client-id="outage-client-01"')
        await alice_ws.send(frame)  # a late retry confirms, stores nothing more
        await no_more_messages(bob_ws, 0.5)
    assert failures == {"post": 0, "typing": 0}
    assert await Message.filter(client_id="outage-client-01").count() == 1


async def test_closed_sockets_are_freed_at_once_and_the_hub_returns_to_empty(
    app: Quart, alice_client: QuartClient, general: Room
) -> None:
    # Freed by reference counting as each socket closes, not left to the cycle collector:
    # the server collects rarely (see chat_app.serve.tune_garbage_collector), and tabs that
    # reconnect all day made every closed socket's objects pile up until it did.
    hub = app.extensions["hub"]
    ledger = app.extensions["socket_ledger"]
    connections: list[weakref.ref[Any]] = []
    gc.collect()
    gc.disable()
    try:
        for n in range(10):
            async with alice_client.websocket(LIVE, headers={"Origin": ORIGIN}) as ws:
                await ws.send(send_frame(f"churn {n}"))
                await receive_until(ws, f"churn {n}")
                connections += [weakref.ref(c) for c in hub.connections()]
        async with asyncio.timeout(5):
            while hub.open_sockets() or ledger._waiting:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the handlers' last lines run
        alive = sum(ref() is not None for ref in connections)
    finally:
        gc.enable()
    assert len(connections) == 10
    assert alive == 0
    assert (hub._rooms, hub._by_user) == ({}, {})
    assert (ledger._opened, ledger._closed, ledger._waiting) == ([], [], [])


async def test_an_open_socket_keeps_none_of_its_handshake_headers_and_still_works(
    app: Quart, alice_client: QuartClient, bob_client: QuartClient, general: Room
) -> None:
    # Cookies, Origin and Host are read before the accept; a socket may then stay open for
    # days, and its headers were ~2.5 KB of it.
    hub = app.extensions["hub"]
    headers = {"Origin": ORIGIN, "User-Agent": "x" * 2000}
    async with alice_client.websocket(LIVE, headers=headers) as alice_ws:
        await alice_ws.send(send_frame("before bob"))
        await receive_until(alice_ws, "before bob")
        [connection] = hub.connections()
        assert connection.socket.scope["headers"] == []
        assert not connection.socket.headers
        async with bob_client.websocket(LIVE, headers={"Origin": ORIGIN}) as bob_ws:
            await alice_ws.send(send_frame("after the headers went"))
            await receive_until(bob_ws, "after the headers went")
            assert "after the headers went" in await receive_until(
                alice_ws, "after the headers went"
            )


async def test_a_post_rejected_over_the_socket_hands_back_a_composer_that_still_posts(
    alice_client: QuartClient, general: Room
) -> None:
    page = await (await alice_client.get("/rooms/general")).get_data(as_text=True)
    async with alice_client.websocket(LIVE, headers={"Origin": ORIGIN}) as ws:
        await drain(ws)
        await ws.send(send_frame("x" * 4001))
        composer = await receive_until(ws, 'id="composer"')
    assert "x" * 4001 in composer  # the text is kept, with the reason
    token = csrf_from(composer)
    assert token == csrf_from(page)  # the one the session cookie holds, not a new one
    posted = await alice_client.post(
        "/rooms/general/messages",
        form={"content": "by plain form", "client_id": "a" * 32, "csrf_token": token},
    )
    assert posted.status_code == 303
    assert await Message.filter(content="by plain form").exists()


async def test_a_forged_session_cookie_gets_a_composer_without_a_token(
    alice_client: QuartClient, general: Room
) -> None:
    alice_client.set_cookie("localhost", "parley_csrf", "eyJjc3JmX3Rva2VuIjoiZm9yZ2VkIn0.forged")
    async with alice_client.websocket(LIVE, headers={"Origin": ORIGIN}) as ws:
        await drain(ws)
        await ws.send(send_frame(""))
        composer = await receive_until(ws, 'id="composer"')
    assert 'name="csrf_token" value=""' in composer
    assert "forged" not in composer
