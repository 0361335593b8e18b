"""Every input path against the hostile corpus; body limits; headers; cookie settings."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import quote

import pytest
from quart import Quart
from quart.testing import QuartClient

from chat_app import ROOT, config, create_app
from chat_app.actions import post_message
from chat_app.actions.messages import INVISIBLE_RE
from chat_app.models import Message, Room, User
from tests.blueprints.test_live import LIVE, live_pair, parse_elements
from tests.conftest import ORIGIN, PASSWORD, csrf_from, log_in, send_frame
from tests.hostile import (
    CORPUS,
    TEN_MB,
    answer,
    assert_inert,
    assert_valid_messages,
    post_form,
    short,
)

MAX_BODY = 1024 * 1024


def expected(payload: str, ok: set[int]) -> set[int]:
    """What a form post of ``payload`` may answer: ``ok``, or 413 when the body is too big."""
    return {413} if len(payload) > MAX_BODY else ok


@pytest.mark.parametrize("payload", CORPUS, ids=short)
async def test_hostile_registration_is_refused_or_stored_clean_and_echoed_inert(
    client: QuartClient, payload: str
) -> None:
    for fields in (
        {"username": payload, "password": PASSWORD},
        {"username": "carol", "password": payload},
    ):
        response = await post_form(client, "/register", "/register", fields)
        assert response.status_code in expected(payload, {303, 422}), fields
        assert_inert(await response.get_data(as_text=True))
        await User.filter(username="carol").delete()
    assert await User.exclude(username="carol").count() == 0  # no hostile name got in


@pytest.mark.parametrize("payload", CORPUS, ids=short)
async def test_hostile_login_gets_the_vague_error_and_an_inert_page(
    client: QuartClient, alice: User, payload: str
) -> None:
    for fields in (
        {"username": payload, "password": PASSWORD},
        {"username": "alice", "password": payload},
    ):
        response = await post_form(client, "/login", "/login", fields)
        assert response.status_code in expected(payload, {401}), fields
        page = await response.get_data(as_text=True)
        assert_inert(page)
        if response.status_code == 401:
            assert "Wrong username or password." in page


@pytest.mark.parametrize("payload", CORPUS, ids=short)
async def test_hostile_composer_posts_store_clean_text_and_render_inert(
    alice_client: QuartClient, alice: User, general: Room, payload: str
) -> None:
    fields = {"content": payload, "client_id": "form-client-0001"}
    response = await post_form(alice_client, "/rooms/general", "/rooms/general/messages", fields)
    assert response.status_code in expected(payload, {303, 422})
    assert_inert(await response.get_data(as_text=True))
    assert_valid_messages(await Message.all(), general.id, alice.id)
    page = await (await alice_client.get("/rooms/general")).get_data(as_text=True)
    assert_inert(page)


@pytest.mark.parametrize("payload", CORPUS, ids=short)
async def test_hostile_edits_store_clean_text_and_render_inert(
    app: Quart, alice_client: QuartClient, alice: User, general: Room, payload: str
) -> None:
    async with app.app_context():
        message = await post_message(alice, general, "before the edit", "edit-client-0001")
    path = f"/messages/{message.id}/edit"
    response = await post_form(alice_client, path, path, {"content": payload})
    assert response.status_code in expected(payload, {303, 422})
    assert_inert(await response.get_data(as_text=True))
    assert_valid_messages(await Message.all(), general.id, alice.id)
    assert_inert(await (await alice_client.get("/rooms/general")).get_data(as_text=True))


@pytest.mark.parametrize("payload", [p for p in CORPUS if len(p) < 60_000], ids=short)
async def test_hostile_edits_over_the_socket_reach_others_inert(
    app: Quart, alice_client: QuartClient, bob_client: QuartClient, alice: User, payload: str
) -> None:
    general = await Room.get(slug="general")
    async with app.app_context():
        message = await post_message(alice, general, "before the edit", "edit-client-0002")
    async with live_pair(alice_client, bob_client, settled=True) as (alice_ws, bob_ws):
        frame = {"op": "edit", "message_id": str(message.id), "content": payload}
        await alice_ws.send(json.dumps(frame | {"HEADERS": {"HX-Request": "true"}}))
        assert_inert(await answer(alice_ws, ('id="notice"', f'id="message-{message.id}"')))
        if (await Message.get(id=message.id)).content != "before the edit":
            assert_inert(await answer(bob_ws, (f'id="message-{message.id}"',)))
    assert_valid_messages(await Message.all(), general.id, alice.id)
    assert_inert(await (await bob_client.get("/rooms/general")).get_data(as_text=True))


@pytest.mark.parametrize("payload", CORPUS, ids=short)
async def test_hostile_urls_get_clear_4xx_answers(
    alice_client: QuartClient, general: Room, payload: str
) -> None:
    value = quote(payload[:100_000], safe="", errors="surrogatepass")
    for url, status in (
        (f"/rooms/general/history?before={value}", 400),
        (f"/rooms/general/history?after={value}", 400),
        (f"/api/rooms/general/messages?before={value}", 400),
        (f"/api/rooms/general/messages?limit={value}", 400),
        (f"/rooms/{value}", 404),
        (f"/api/rooms/{value}/messages", 404),
    ):
        response = await alice_client.get(url)
        assert response.status_code == status, url[:80]
        assert_inert(await response.get_data(as_text=True))


async def test_bodies_over_one_mib_get_413_with_a_clear_message(
    alice_client: QuartClient, general: Room
) -> None:
    response = await alice_client.post(
        "/rooms/general/messages", form={"content": TEN_MB, "client_id": "form-client-0001"}
    )
    assert response.status_code == 413
    assert "at most 1,024 KiB" in await response.get_data(as_text=True)
    api = await alice_client.post("/api/rooms/general/messages", data=TEN_MB)
    assert api.status_code in {403, 405, 413}  # never read into memory, never a 5xx


async def test_every_response_carries_the_security_headers(client: QuartClient) -> None:
    for path in ("/login", "/static/css/app.css", "/healthz", "/no-such-page"):
        headers = (await client.get(path)).headers
        csp = headers["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"


def test_templates_need_no_inline_script_style_or_eval() -> None:
    # What the CSP forbids must not be needed: no inline scripts, styles or handlers.
    for template in Path(ROOT, "templates").rglob("*.html"):
        text = template.read_text()
        assert " style=" not in text and "<style" not in text, template
        for tag, attrs in parse_elements(text):
            assert not any(name.startswith("on") for name, _ in attrs), (template, tag)
            if tag == "script":
                assert "src" in dict(attrs), template
    base = Path(ROOT, "templates", "base.html").read_text()
    assert '"allowEval": false' in base and '"includeIndicatorStyles": false' in base


async def test_the_secure_flag_follows_the_setting(database_url: str) -> None:
    assert config.load({"CHAT_COOKIE_SECURE": "0"})["COOKIE_SECURE"] is False
    for secure in (True, False):
        other = create_app({"DATABASE_URL": database_url, "COOKIE_SECURE": secure})
        browser = other.test_client()
        fields = {"username": f"carol{int(secure)}", "password": PASSWORD}
        response = await post_form(browser, "/register", "/register", fields)
        assert response.status_code == 303
        cookies = response.headers.getlist("Set-Cookie")
        assert {c.split("=")[0] for c in cookies} == {"parley_session", "parley_csrf"}
        for cookie in cookies:
            assert ("; Secure" in cookie) is secure, cookie
            assert "HttpOnly" in cookie and "SameSite=Lax" in cookie, cookie


def test_sessions_longer_than_14_days_are_refused() -> None:
    with pytest.raises(ValueError, match="1 to 14"):
        create_app({"SESSION_DAYS": 30})


@pytest.mark.parametrize("payload", [p for p in CORPUS if len(p) < 60_000], ids=short)
async def test_hostile_frames_get_an_answer_are_stored_clean_and_reach_others_inert(
    alice_client: QuartClient, bob_client: QuartClient, alice: User, general: Room, payload: str
) -> None:
    async with live_pair(alice_client, bob_client) as (alice_ws, bob_ws):
        await alice_ws.send(send_frame(payload))  # JSON: a lone surrogate travels as "\ud800"
        assert_inert(await answer(alice_ws))
        stored = await Message.all()
        assert_valid_messages(stored, general.id, alice.id)
        if stored:
            assert_inert(await answer(bob_ws, ("chat-bubble",)))
            assert stored[0].content == INVISIBLE_RE.sub("", payload).strip()


async def test_forged_ids_in_a_frame_cannot_post_elsewhere_or_as_someone_else(
    alice_client: QuartClient, alice: User, bob: User, general: Room
) -> None:
    secret = await Room.create(slug="secret", name="Secret")
    forged = json.loads(send_frame("where does this go?"))
    forged |= {"room_id": secret.id, "room": "secret", "author_id": bob.id, "user_id": bob.id}
    async with alice_client.websocket(LIVE, headers={"Origin": ORIGIN}) as ws:
        await ws.send(json.dumps(forged))
        await answer(ws)
    message = await Message.get()
    assert (message.room_id, message.author_id) == (general.id, alice.id)


async def test_outsiders_can_neither_read_nor_post_in_a_room(
    alice_client: QuartClient, general: Room
) -> None:
    await Room.create(slug="secret", name="Secret")
    for path in ("/rooms/secret", "/rooms/secret/history", "/api/rooms/secret/messages"):
        assert (await alice_client.get(path)).status_code == 404, path
    fields = {"content": "let me in", "client_id": "form-client-0001"}
    response = await post_form(alice_client, "/rooms/general", "/rooms/secret/messages", fields)
    assert response.status_code == 404
    assert await Message.all().count() == 0


async def test_log_out_everywhere_closes_every_socket_of_that_user_at_once(
    app: Quart, alice: User, bob: User, bob_client: QuartClient, general: Room
) -> None:
    laptop, phone = await log_in(app, "alice"), await log_in(app, "alice")
    hub = app.extensions["hub"]
    async with (
        laptop.websocket(LIVE, headers={"Origin": ORIGIN}) as on_laptop,
        phone.websocket(LIVE, headers={"Origin": ORIGIN}) as on_phone,
        bob_client.websocket(LIVE, headers={"Origin": ORIGIN}) as bobs,
    ):
        for ws in (on_laptop, on_phone, bobs):
            await ws.send('{"HEADERS": {}}')
            await answer(ws)  # accepted and attached
        token = csrf_from(await (await laptop.get("/rooms/general")).get_data(as_text=True))
        assert (
            await laptop.post("/logout/everywhere", form={"csrf_token": token})
        ).status_code == 303
        async with asyncio.timeout(5):
            while hub.sockets_of(alice.id):
                await asyncio.sleep(0.01)
        assert hub.sockets_of(bob.id) == 1
