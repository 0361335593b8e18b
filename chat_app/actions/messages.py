"""Posting a message."""

from __future__ import annotations

import asyncio
import logging
import re

from quart import current_app
from tortoise.exceptions import IntegrityError

from chat_app import metrics
from chat_app.actions.limits import app_limiter
from chat_app.buckets import TokenBucket
from chat_app.db import finish_even_if_cancelled
from chat_app.logs import log_event
from chat_app.models import Membership, Message, Room, User
from chat_app.models.messages import CLIENT_ID_RE
from chat_app.realtime import publish
from chat_app.realtime.events import MessagePosted

log = logging.getLogger(__name__)

# Invisible characters that mean nothing in chat text: C0/C1 controls except tab and newline,
# and lone UTF-16 surrogates (a JSON "\ud800" decodes to one; no database can store it).
INVISIBLE_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


class MessageRejected(ValueError):
    """The message was not stored; ``str()`` tells the sender why."""


def _rate_limiter() -> TokenBucket:
    cfg = current_app.config
    return app_limiter("messages", cfg["MESSAGES_PER_SECOND"], cfg["MESSAGES_BURST"])


def clean_content(raw: object) -> str:
    """The text to store, or MessageRejected saying what is wrong with it.

    Control characters are stripped rather than refused: they are invisible, so the sender
    could not find them to fix the message.
    """
    if not isinstance(raw, str):
        raise MessageRejected("A message must be text.")
    content = INVISIBLE_RE.sub("", raw.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not content:
        raise MessageRejected("Write something before sending.")
    limit: int = current_app.config["MESSAGE_MAX_CHARS"]
    if len(content) > limit:
        raise MessageRejected(
            f"Messages are at most {limit:,} characters; this one has {len(content):,}."
        )
    return content


async def post_message(author: User, room: Room, content: object, client_id: object) -> Message:
    """Store a message and, after the commit, publish ``MessagePosted``.

    A retry with the same ``client_id`` returns the stored message and publishes nothing.
    Membership is checked here, not only when the socket opened: a member removed meanwhile,
    or a room archived meanwhile, takes no new messages.
    """
    if not isinstance(client_id, str) or not CLIENT_ID_RE.fullmatch(client_id):
        raise MessageRejected("This message has no valid client id; reload the page.")
    text = clean_content(content)
    # Two independent reads: side by side, the post waits for one round trip, not two.
    _, existing = await asyncio.gather(
        _check_open_to(author, room),
        Message.get_or_none(author_id=author.id, client_id=client_id),
    )
    if existing is not None:
        return existing
    wait = _rate_limiter().take(author.id)
    if wait:
        metrics.RATE_LIMITED.inc()
        log_event(log, "rate_limited", logging.WARNING, user=author.id, room=room.id)
        raise MessageRejected(f"You are sending too fast; try again in {wait:.1f} s.")
    return await finish_even_if_cancelled(_store(author, room, text, client_id))


async def _check_open_to(author: User, room: Room) -> None:
    """MessageRejected unless ``author`` belongs to ``room`` and it is not archived."""
    archived = await Membership.filter(user_id=author.id, room_id=room.id).values_list(
        "room__archived_at", flat=True
    )
    if not archived:
        raise MessageRejected("You are not a member of this room.")
    if archived[0] is not None:
        raise MessageRejected("This room is archived: it can be read, not posted to.")


async def _store(author: User, room: Room, text: str, client_id: str) -> Message:
    # Ids, commits and events of a room go in one order: the database gives ids in commit
    # order (migration 0003), and this lock keeps this process's publishes in that order too.
    # A tab that saw id N live therefore never misses a smaller one (catch-up resumes after N).
    # The lock spans one INSERT and the publish: posts to one room queue on it.
    async with _room_lock(room.id):
        try:
            message = await Message.create(
                room_id=room.id, author_id=author.id, content=text, client_id=client_id
            )
        except IntegrityError:
            # The same client id raced us: the other insert won, and it publishes.
            raced = await Message.get_or_none(author_id=author.id, client_id=client_id)
            if raced is None:
                raise
            return raced
        metrics.MESSAGES_POSTED.inc()
        await publish(MessagePosted(room_id=room.id, message_id=message.id))
    return message


def _room_lock(room_id: int) -> asyncio.Lock:
    locks: dict[int, asyncio.Lock] = current_app.extensions.setdefault("room_locks", {})
    return locks.setdefault(room_id, asyncio.Lock())
