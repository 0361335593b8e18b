"""Outgoing webhooks against a local receiver: called when mentioned or sent a DM, signed,
retried with backoff, the reply posted back as the bot, failures recorded; the SSRF guard."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from quart import Quart

from chat_app.actions import post_message, register_user
from chat_app.actions.bots import BotError, create_bot, set_outgoing
from chat_app.actions.directs import open_direct
from chat_app.actions.outgoing import (
    SIGNATURE_HEADER,
    TASKS,
    cancel_calls,
    drain,
    outgoing_url_problem,
)
from chat_app.models import Bot, Message, Room, User
from chat_app.outbound import GuardedResolver
from tests.conftest import PASSWORD, free_port, log_in


@dataclass
class Receiver:
    """A local HTTP server standing in for a bot's service."""

    url: str
    answers: list[tuple[int, object]] = field(default_factory=list)
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    hold: asyncio.Event | None = None  # set: answer nothing until it is set

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append((dict(request.headers), await request.read()))
        if self.hold is not None:
            await self.hold.wait()
        status, body = self.answers.pop(0) if self.answers else (200, None)
        return (
            web.json_response(body, status=status)
            if body is not None
            else web.Response(status=status)
        )


@pytest.fixture
async def receiver(app: Quart) -> AsyncIterator[Receiver]:
    port = free_port()
    found = Receiver(f"http://127.0.0.1:{port}/hook")
    server = web.Application()
    server.router.add_post("/hook", found.handle)
    runner = web.AppRunner(server)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    saved = {k: app.config[k] for k in ("OUTGOING_ALLOW_PRIVATE", "OUTGOING_BACKOFF_SECONDS")}
    app.config.update(OUTGOING_ALLOW_PRIVATE=True, OUTGOING_BACKOFF_SECONDS=0.01)
    try:
        yield found
    finally:
        app.config.update(saved)
        await runner.cleanup()


@pytest.fixture
async def bot(app: Quart, general: Room, receiver: Receiver) -> User:
    async with app.app_context():
        made = await create_bot(None, "helper", ["general"])
        await set_outgoing(None, made, receiver.url)
    return made


async def _post(app: Quart, author: User, room: Room, text: str, client_id: str) -> Message:
    async with app.app_context():
        message = await post_message(author, room, text, client_id)
        await drain(app)
    return message


async def test_a_mention_calls_the_bot_signed_and_its_reply_is_posted(
    app: Quart, alice: User, general: Room, bot: User, receiver: Receiver
) -> None:
    receiver.answers.append((200, {"text": "on it"}))
    message = await _post(app, alice, general, "@helper deploy please", "mention-001")
    ((headers, body),) = receiver.calls
    secret = (await Bot.get(user_id=bot.id)).signing_secret
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers[SIGNATURE_HEADER], expected)
    sent = json.loads(body)
    assert sent["bot"] == "helper" and sent["room"]["slug"] == "general"
    assert sent["message"] | {"created_at": None} == {
        "id": message.id,
        "content": "@helper deploy please",
        "author": "alice",
        "created_at": None,
        "reply_to": None,
    }
    assert (await Bot.get(user_id=bot.id)).last_failure == ""
    reply = await Message.get(author_id=bot.id)
    assert reply.content == "on it" and reply.reply_to_id == message.id
    assert len(receiver.calls) == 1  # the bot's own reply calls nobody


async def test_no_mention_no_call_and_a_dm_calls(
    app: Quart, alice: User, general: Room, bot: User, receiver: Receiver
) -> None:
    await _post(app, alice, general, "nothing for bots here", "plain-0001")
    assert receiver.calls == []
    async with app.app_context():
        direct = await open_direct(alice, [bot.id])
    await _post(app, alice, direct, "hello bot", "direct-0001")
    assert len(receiver.calls) == 1


async def test_failures_are_retried_then_shown_to_admins(
    app: Quart, alice: User, general: Room, bot: User, receiver: Receiver
) -> None:
    receiver.answers.extend([(500, None), (503, None), (502, None)])
    await _post(app, alice, general, "@helper status?", "retry-0001")
    assert len(receiver.calls) == app.config["OUTGOING_ATTEMPTS"] == 3
    row = await Bot.get(user_id=bot.id)
    assert "HTTP 502" in row.last_failure and row.last_failure_at is not None
    assert not await Message.filter(author_id=bot.id).exists()
    await register_user("root", PASSWORD, is_admin=True)
    page = await (await log_in(app, "root")).get("/admin/bots")
    assert "HTTP 502" in (await page.get_data(as_text=True)).split(f'id="bot-{bot.id}-failure"')[1]


async def test_a_refusal_is_not_retried_and_a_success_after_a_failure_replies(
    app: Quart, alice: User, general: Room, bot: User, receiver: Receiver
) -> None:
    receiver.answers.append((403, None))
    await _post(app, alice, general, "@helper one", "refuse-0001")
    assert len(receiver.calls) == 1
    receiver.answers.extend([(500, None), (200, {"text": "second time lucky"})])
    await _post(app, alice, general, "@helper two", "refuse-0002")
    assert await Message.filter(author_id=bot.id, content="second time lucky").exists()


async def test_shutdown_cancels_calls_under_way(
    app: Quart, alice: User, general: Room, bot: User, receiver: Receiver
) -> None:
    receiver.hold = asyncio.Event()  # a receiver that does not answer
    async with app.app_context():
        await post_message(alice, general, "@helper are you there?", "slow-00001")
        async with asyncio.timeout(5):
            while not receiver.calls:
                await asyncio.sleep(0.01)
            await cancel_calls(app)
    assert not app.extensions[TASKS]
    receiver.hold.set()


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/hook",
        "https://printer.local/hook",
        "https://user:pw@example.com/hook",
        "https://example.com:8443/hook",
        "javascript:alert(1)",
        "https://exa\u0000mple.com/",
    ],
)
async def test_the_ssrf_guard_refuses_urls_into_our_network(app: Quart, url: str) -> None:
    async with app.app_context():
        assert outgoing_url_problem(url) is not None
        assert outgoing_url_problem("https://hooks.example.com/parley") is None
        bot = await create_bot(None, "guarded", [])
        with pytest.raises(BotError):
            await set_outgoing(None, bot, url)


async def test_names_that_resolve_inside_are_not_reached() -> None:
    with pytest.raises(OSError):
        await GuardedResolver().resolve("localhost", 443)
