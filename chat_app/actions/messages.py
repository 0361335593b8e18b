"""Posting a message (and replying to one)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from quart import current_app
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from chat_app import metrics
from chat_app.actions.attachments import attach, attachment_ids_from
from chat_app.actions.changes import (
    MessageRejected,
    announce,
    message_id_from,
    record,
    spend_write,
)
from chat_app.actions.mentions import Mentions, mentions_in, write_mentions
from chat_app.actions.notifications import notify_of
from chat_app.actions.outgoing import call_bots
from chat_app.actions.previews import preview_later
from chat_app.db import finish_even_if_cancelled
from chat_app.models import ChangeKind, Membership, Message, Room, User
from chat_app.models.messages import CLIENT_ID_RE

# Invisible characters that mean nothing in chat text: C0/C1 controls except tab and newline,
# and lone UTF-16 surrogates (a JSON "\ud800" decodes to one; no database can store it).
INVISIBLE_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_content(raw: object, *, required: bool = True) -> str:
    """The text to store, or MessageRejected saying what is wrong with it; it may be empty
    only when not ``required`` (a message that carries files).

    Control characters are stripped rather than refused: they are invisible, so the sender
    could not find them to fix the message.
    """
    if raw is None and not required:
        raw = ""
    if not isinstance(raw, str):
        raise MessageRejected("A message must be text.")
    content = INVISIBLE_RE.sub("", raw.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not content and required:
        raise MessageRejected("Write something before sending.")
    limit: int = current_app.config["MESSAGE_MAX_CHARS"]
    if len(content) > limit:
        raise MessageRejected(
            f"Messages are at most {limit:,} characters; this one has {len(content):,}."
        )
    return content


@dataclass(frozen=True, slots=True)
class Posted:
    """What a post did: the message, and whether this post stored it (not a retry's)."""

    message: Message
    stored: bool


async def post(
    author: User,
    room: Room,
    content: object,
    client_id: object,
    reply_to: object = None,
    attachments: object = None,
) -> Posted:
    """Store a message (a reply to ``reply_to`` when given, carrying the uploads named by
    ``attachments``: then its text may be empty) and, after the commit, announce its change.

    A retry with the same ``client_id`` returns the stored message and publishes nothing.
    Membership is checked here, not only when the socket opened: a member removed meanwhile,
    or a room archived meanwhile, takes no new messages.
    """
    if not isinstance(client_id, str) or not CLIENT_ID_RE.fullmatch(client_id):
        raise MessageRejected("This message has no valid client id; reload the page.")
    files = attachment_ids_from(attachments)
    text = clean_content(content, required=not files)
    original = None if reply_to in (None, "") else message_id_from(reply_to)
    # Independent reads side by side: the post waits for one round trip, not three.
    _, existing, original_there = await asyncio.gather(
        _check_open_to(author, room),
        Message.get_or_none(author_id=author.id, client_id=client_id),
        _in_room(original, room),
    )
    if existing is not None:
        return Posted(existing, stored=False)
    if not original_there:
        raise MessageRejected("The message you reply to is not in this room (any more).")
    mentions = await mentions_in(author, room, text)
    await spend_write(author, room.id)
    return await finish_even_if_cancelled(
        _store(author, room, text, client_id, original, mentions, files)
    )


def _message_of[**P](post: Callable[P, Awaitable[Posted]]) -> Callable[P, Awaitable[Message]]:
    async def message_only(*args: P.args, **kwargs: P.kwargs) -> Message:
        return (await post(*args, **kwargs)).message

    return message_only


# ``post``'s message alone: what every caller but the socket's (which confirms it) wants.
post_message = _message_of(post)


async def _in_room(message_id: int | None, room: Room) -> bool:
    return message_id is None or await Message.exists(id=message_id, room_id=room.id)


async def _check_open_to(author: User, room: Room) -> None:
    """MessageRejected unless ``author`` belongs to ``room`` and it is not archived."""
    archived = await Membership.filter(user_id=author.id, room_id=room.id).values_list(
        "room__archived_at", flat=True
    )
    if not archived:
        raise MessageRejected("You are not a member of this room.")
    if archived[0] is not None:
        raise MessageRejected("This room is archived: it can be read, not posted to.")


async def _store(
    author: User,
    room: Room,
    text: str,
    client_id: str,
    reply_to: int | None,
    mentions: Mentions,
    files: list[int],
) -> Posted:
    try:
        async with in_transaction():
            message = await Message.create(
                room_id=room.id,
                author_id=author.id,
                content=text,
                client_id=client_id,
                reply_to_id=reply_to,
                file_count=len(files),
            )
            await attach(message.id, author, room, files)
            change = await record(room.id, message.id, ChangeKind.POSTED)
            await write_mentions(message.id, room.id, author.id, change, mentions)
    except IntegrityError:
        # The same client id raced us: the other insert won, and it announces.
        raced = await Message.get_or_none(author_id=author.id, client_id=client_id)
        if raced is None:
            raise
        return Posted(raced, stored=False)
    metrics.MESSAGES_POSTED.inc()
    await announce(room.id, change)
    notify_of(message, mentioned_user_ids=mentions.user_ids, everyone=mentions.everyone)
    call_bots(message, author, room, mentions.user_ids)
    preview_later(message)
    return Posted(message, stored=True)
