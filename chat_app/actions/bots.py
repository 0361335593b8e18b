"""Bots: accounts admins make for integrations, their tokens and incoming webhooks, and what
an incoming webhook posts."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from tortoise.transactions import in_transaction

from chat_app.actions.accounts import USERNAME_RE, normalize_username
from chat_app.actions.changes import MessageRejected
from chat_app.actions.messages import post_message
from chat_app.actions.outgoing import outgoing_url_problem
from chat_app.actions.rooms import become_member
from chat_app.actions.tokens import create_token
from chat_app.models import ApiToken, Bot, Message, Room, User, Webhook
from chat_app.models.rooms import RoomKind
from chat_app.models.tokens import SCOPE_WRITE, token_digest

WEBHOOK_PREFIX = "hook_"
# A bot never signs in with a password: no argon2 hash can be this, so every login fails.
NO_PASSWORD = "!bot"  # noqa: S105 - the opposite of a password
ATTACHMENT_FIELDS = ("pretext", "title", "text")


class BotError(ValueError):
    """A bot change that cannot be made; ``str()`` says why."""


def _check_admin(actor: User | None) -> None:
    """Workspace admins manage bots (None: the operator, from the command line)."""
    if actor is not None and not actor.is_admin:
        raise BotError("Only workspace admins manage bots.")


async def _rooms(slugs: list[str]) -> list[Room]:
    """The rooms (not conversations) called ``slugs``; BotError naming one that is missing."""
    rooms = await Room.filter(slug__in=slugs).exclude(kind=RoomKind.DIRECT)
    missing = set(slugs) - {room.slug for room in rooms}
    if missing:
        raise BotError(f"There is no room #{sorted(missing)[0]}.")
    return rooms


async def create_bot(admin: User | None, username: object, room_slugs: list[str]) -> User:
    """A new bot account called ``username``, a member of these rooms."""
    _check_admin(admin)
    name = normalize_username(username) if isinstance(username, str) else ""
    if not USERNAME_RE.fullmatch(name):
        raise BotError("Bot names are 2 to 32 characters: letters, digits, '_', '.' or '-'.")
    if await User.exists(username=name):
        raise BotError(f"The name {name!r} is taken.")
    rooms = await _rooms(room_slugs)
    async with in_transaction():
        user = await User.create(username=name, password_hash=NO_PASSWORD, is_bot=True)
        await Bot.create(user=user, created_by=admin, signing_secret=secrets.token_hex(32))
    for room in rooms:
        await become_member(user, room)
    return user


async def bot_user(admin: User | None, bot_id: object) -> User:
    """The bot whose user id is ``bot_id``; BotError when there is none."""
    _check_admin(admin)
    text = str(bot_id) if isinstance(bot_id, int | str) else ""
    bot = None
    if text.isascii() and text.isdigit() and len(text) <= 18:
        bot = await User.get_or_none(id=int(text), is_bot=True)
    if bot is None:
        raise BotError("There is no such bot.")
    return bot


async def create_bot_token(admin: User | None, bot: User, name: object) -> tuple[ApiToken, str]:
    """A read-write token for ``bot`` (shown once)."""
    _check_admin(admin)
    return await create_token(bot, name, SCOPE_WRITE)


async def create_webhook(admin: User | None, bot: User, room_slug: str) -> tuple[Webhook, str]:
    """A new incoming webhook posting to ``room_slug`` as ``bot`` (the bot joins the room);
    its secret, shown this once."""
    _check_admin(admin)
    (room,) = await _rooms([room_slug])
    await become_member(bot, room)
    secret = WEBHOOK_PREFIX + secrets.token_urlsafe(32)
    webhook = await Webhook.create(
        bot=bot, room=room, digest=token_digest(secret), hint=secret[: len(WEBHOOK_PREFIX) + 4]
    )
    return webhook, secret


async def revoke_webhook(admin: User | None, webhook_id: object) -> bool:
    """Delete webhook ``webhook_id``; False when there was none."""
    _check_admin(admin)
    text = str(webhook_id) if isinstance(webhook_id, int | str) else ""
    if not (text.isascii() and text.isdigit() and 0 < len(text) <= 18):
        return False
    return bool(await Webhook.filter(id=int(text)).delete())


def webhook_text(payload: object) -> str:
    """The text of an incoming webhook's payload: ``{"text": …}``, or a Slack-compatible one
    whose text is in ``attachments`` or section ``blocks`` (MessageRejected when none)."""
    if not isinstance(payload, dict):
        raise MessageRejected('Send a JSON object such as {"text": "Deployed"}.')
    # As Slack shows them: the section blocks when there are any, else the text and then
    # each attachment (its pretext, title and text, or its fallback).
    parts: list[str] = []
    for block in _dicts(payload.get("blocks")):
        text = block.get("text")
        if isinstance(text, dict) and isinstance(text.get("text"), str):
            parts.append(text["text"])
    if not parts:
        if isinstance(payload.get("text"), str):
            parts.append(payload["text"])
        for attachment in _dicts(payload.get("attachments")):
            shown = [attachment.get(key) for key in ATTACHMENT_FIELDS]
            if not any(isinstance(value, str) for value in shown):
                shown = [attachment.get("fallback")]
            parts.extend(value for value in shown if isinstance(value, str))
    text = "\n".join(part for part in parts if part.strip())
    if not text:
        raise MessageRejected("This payload has no text to post.")
    return text


def _dicts(value: object) -> list[dict[str, Any]]:
    return (
        [item for item in value if isinstance(item, dict)][:50] if isinstance(value, list) else []
    )


async def post_from_webhook(webhook: Webhook, payload: object) -> Message:
    """Post the payload's text to the webhook's room as its bot (the bot's write budget
    applies: MessageRejected, or TooFast, as for any post)."""
    return await post_message(webhook.bot, webhook.room, webhook_text(payload), uuid.uuid4().hex)


async def set_outgoing(admin: User | None, bot: User, url: object) -> None:
    """Call ``bot`` at ``url`` when it is mentioned or sent a DM (empty: not at all); a URL
    that could aim the server at its own network is refused."""
    _check_admin(admin)
    text = url.strip() if isinstance(url, str) else ""
    problem = outgoing_url_problem(text) if text else None
    if problem:
        raise BotError(problem)
    await Bot.filter(user_id=bot.id).update(outgoing_url=text)
