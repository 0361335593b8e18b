"""Outgoing webhooks: a bot with a URL is called when a message mentions it or is sent to a
conversation it is in. The call is a signed JSON POST made in the background; a reply in the
answer is posted back as the bot; a delivery that fails every attempt is recorded on the bot
for its admins."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from quart import Quart, current_app

# The module, not its function: posting calls bots, and a bot's reply is a post.
from chat_app.actions import messages
from chat_app.actions.changes import MessageRejected
from chat_app.logs import log_event
from chat_app.models import Bot, Membership, Message, Room, User
from chat_app.outbound import guarded_session
from chat_app.push import endpoint_problem

log = logging.getLogger(__name__)


def allow_private() -> bool:
    """Whether private addresses and plain http are allowed (only for tests' local receivers:
    ``CHAT_OUTGOING_ALLOW_PRIVATE``)."""
    return bool(current_app.config["OUTGOING_ALLOW_PRIVATE"])


def outgoing_url_problem(url: str) -> str | None:
    """Why the server must not call ``url``, or None when it may: push's rule (public https
    names only); the address it resolves to is checked again by the guarded client."""
    if endpoint_problem(url, allow_private()) is not None:
        return "The URL must be a public https:// address (no IP addresses or local names)."
    return None


SIGNATURE_HEADER = "X-Parley-Signature"
REPLY_MAX_BYTES = 64 * 1024
TASKS = "outgoing_tasks"
FAILURE_MAX = 500


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def _bots_called(message: Message, room: Room, mentioned: Collection[int]) -> list[Bot]:
    """The bots with a URL that this message calls: mentioned, or in its direct conversation."""
    called = set(mentioned)
    if room.is_direct:
        members = await Membership.filter(room_id=room.id, user__is_bot=True).values_list(
            "user_id", flat=True
        )
        called.update(int(m) for m in members)  # type: ignore[call-overload]
    called.discard(message.author_id)
    if not called:
        return []
    return await Bot.filter(user_id__in=called, user__is_active=True).exclude(outgoing_url="")


def call_bots(message: Message, author: User, room: Room, mentioned: Collection[int]) -> None:
    """Call the bots ``message`` (stored and committed) is for, in the background. Messages of
    bots call no bots: two bots answering each other would never stop."""
    if author.is_bot or not (mentioned or room.is_direct):
        return
    app: Quart = current_app._get_current_object()
    tasks: set[asyncio.Task[None]] = app.extensions.setdefault(TASKS, set())
    task = asyncio.get_running_loop().create_task(_call_all(app, message, author, room, mentioned))
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def drain(app: Quart) -> None:
    """Wait for the calls started so far (tests, shutdown)."""
    tasks: set[asyncio.Task[None]] = app.extensions.get(TASKS, set())
    while tasks:
        await asyncio.gather(*list(tasks), return_exceptions=True)


async def cancel_calls(app: Quart) -> None:
    """Stop the calls still under way (shutdown: a receiver must not hold it up)."""
    tasks: set[asyncio.Task[None]] = app.extensions.get(TASKS, set())
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*list(tasks), return_exceptions=True)


async def _call_all(
    app: Quart, message: Message, author: User, room: Room, mentioned: Collection[int]
) -> None:
    async with app.app_context():
        bots = await _bots_called(message, room, mentioned)
        if bots:
            body = _body(message, author, room)
            await asyncio.gather(*(_call(bot, room, message, body) for bot in bots))


def _body(message: Message, author: User, room: Room) -> dict[str, Any]:
    return {
        "message": {
            "id": message.id,
            "content": message.content,
            "author": author.username,
            "created_at": message.created_at.isoformat(),
            "reply_to": message.reply_to_id,
        },
        "room": {"slug": room.slug, "name": room.name, "kind": room.kind.value},
    }


async def _call(bot: Bot, room: Room, message: Message, body: dict[str, Any]) -> None:
    """POST to the bot, retrying with backoff; post its reply, or record why it failed."""
    cfg = current_app.config
    user = await User.get(id=bot.user_id)
    data = json.dumps({**body, "bot": user.username}, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(bot.signing_secret, data)}
    problem = outgoing_url_problem(bot.outgoing_url)
    attempts = 0 if problem else int(cfg["OUTGOING_ATTEMPTS"])
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(float(cfg["OUTGOING_BACKOFF_SECONDS"]) * 2 ** (attempt - 1))
        timeout = float(cfg["OUTGOING_TIMEOUT_SECONDS"])
        status, answer, problem = await _attempt(bot.outgoing_url, data, headers, timeout)
        if status is not None and 200 <= status < 300:
            await _post_reply(bot, user, room, message, answer)
            return
        if status is not None and status < 500 and status != 429:
            break  # the receiver refuses this one: retrying will not help
    await _record_failure(bot, problem or "no answer")


async def _attempt(
    url: str, data: bytes, headers: dict[str, str], seconds: float
) -> tuple[int | None, bytes, str]:
    """One POST: its status (None when there was no answer), the start of its body, and what
    to record if it counts as a failure."""
    try:
        async with (
            guarded_session(seconds, guard=not allow_private()) as session,
            session.post(url, data=data, headers=headers, allow_redirects=False) as response,
        ):
            return (
                response.status,
                await response.content.read(REPLY_MAX_BYTES),
                (f"HTTP {response.status}"),
            )
    except (TimeoutError, aiohttp.ClientError, OSError) as error:
        return None, b"", f"{type(error).__name__}: {error}"[:200]


async def _post_reply(bot: Bot, user: User, room: Room, message: Message, answer: bytes) -> None:
    """A JSON answer with ``text`` is the bot's reply (once per message: its client id)."""
    try:
        reply = json.loads(answer) if answer.strip() else None
    except ValueError:
        return
    if not isinstance(reply, dict) or not isinstance(reply.get("text"), str):
        return
    try:
        client_id = f"bot-reply-{message.id}"  # a retried call replies once
        await messages.post_message(user, room, reply["text"], client_id, message.id)
    except MessageRejected as error:
        await _record_failure(bot, f"The reply was refused: {error}")


async def _record_failure(bot: Bot, problem: str) -> None:
    host = urlsplit(bot.outgoing_url).hostname or "-"
    text = f"{problem} ({host})"[:FAILURE_MAX]
    log_event(log, "outgoing.failed", logging.WARNING, bot=bot.user_id, host=host)
    await Bot.filter(id=bot.id).update(last_failure=text, last_failure_at=datetime.now(UTC))
