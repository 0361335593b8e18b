"""Messages, ordered by an increasing id, and their keyset-paginated reads."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from tortoise import fields
from tortoise.models import Model

from chat_app.models.attachments import Attachment, attachments_of
from chat_app.models.mentions import NOBODY, Mentioned, mentioned_in
from chat_app.models.previews import LinkPreview, previews_of
from chat_app.models.reactions import ReactionGroup, reaction_groups
from chat_app.models.rooms import Room
from chat_app.models.users import User
from chat_app.richtext import plain_text, render

CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")  # what a ``Message.client_id`` may be


def new_client_id() -> str:
    """A fresh idempotency key for a composer."""
    return uuid.uuid4().hex


EXCERPT_CHARS = 140


class Message(Model):
    """One chat message. ``client_id`` makes a retried send store one copy."""

    id = fields.BigIntField(primary_key=True)
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "chat.Room", related_name="messages", on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "chat.User", related_name="messages", on_delete=fields.CASCADE
    )
    content = fields.TextField()  # the Markdown source, as written
    # Its HTML (richtext.render), made once when it is stored or edited: pages and fan-out
    # only copy it.
    content_html = fields.TextField(db_default="")
    client_id = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    edited_at = fields.DatetimeField(null=True)
    # No foreign key: a reply outlives its original, and then says the original was deleted.
    reply_to_id = fields.BigIntField(null=True)
    # How many files it carries: pages and fan-out look for files only where there are some.
    file_count = fields.SmallIntField(default=0, db_default=0)

    class Meta:
        table = "messages"
        unique_together = (("author", "client_id"),)
        # (author_id, id): one person's messages in order (their export, their deletion).
        indexes = (("room_id", "id"), ("reply_to_id",), ("author_id", "id"))

    room_id: int
    author_id: int
    # Filled by ``shown`` for the partial: its reactions and, for a reply, the quoted original;
    # whom it mentions; its files; its link preview.
    reaction_groups: list[ReactionGroup]
    attached: list[Attachment]
    quoted: Quote | None
    mentioned: Mentioned
    preview: LinkPreview | None

    async def save(self, *args: Any, **kwargs: Any) -> None:
        """Store it, rendering its HTML when it has none yet (every new message)."""
        if not self.content_html:
            self.content_html = render(self.content)
        await super().save(*args, **kwargs)

    def plain_text(self) -> str:
        """What it reads as without markup: for excerpts, quotes and notifications."""
        return plain_text(self.content_html)


@dataclass(frozen=True, slots=True)
class Quote:
    """What a reply shows of its original: an excerpt, or None when it was deleted."""

    message_id: int
    author: str | None
    excerpt: str | None


def excerpt(text: str) -> str:
    """The start of ``text`` on one line, cut at EXCERPT_CHARS with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= EXCERPT_CHARS else line[: EXCERPT_CHARS - 1].rstrip() + "…"


async def shown(
    messages: list[Message], reactions: dict[int, list[ReactionGroup]] | None = None
) -> list[Message]:
    """``messages`` (authors loaded) with what their partial shows besides: reactions (unless
    given, read already), the originals that replies quote, whom they mention, their files
    and their link previews. One query for reactions; one each for files, mentions, previews
    and originals only if a message has files, mentions someone, has a link or replies. The
    queries run side by side: a page or a fan-out waits for one round trip, not five. So
    never inside a transaction, whose one connection takes one query at a time."""
    groups, files, mentions, previews, quoted = await asyncio.gather(
        reaction_groups([m.id for m in messages]) if reactions is None else _ready(reactions),
        attachments_of(m.id for m in messages if m.file_count),
        mentioned_in(m.id for m in messages if "@" in m.content),
        previews_of(m.id for m in messages if "<a " in m.content_html),
        _originals({m.reply_to_id for m in messages if m.reply_to_id is not None}),
    )
    for message in messages:
        message.reaction_groups = groups.get(message.id, [])
        message.mentioned = mentions.get(message.id, NOBODY)
        message.attached = files.get(message.id, [])
        message.preview = previews.get(message.id)
        message.quoted = None
        if message.reply_to_id is not None:
            original = quoted.get(message.reply_to_id)
            message.quoted = Quote(
                message.reply_to_id,
                original.author.username if original else None,
                excerpt(original.plain_text()) if original else None,
            )
    return messages


async def message_for_member(user_id: int, message_id: int) -> Message | None:
    """Message ``message_id`` with its room and author if ``user_id`` belongs to its room, else
    None: a message of a room one is not in does not exist for them (404, like the room)."""
    return (
        await Message.filter(id=message_id, room__memberships__user_id=user_id)
        .select_related("room", "author")
        .first()
    )


async def latest(room_id: int, limit: int) -> list[Message]:
    """The newest ``limit`` messages of a room, oldest first."""
    return await page_before(room_id, None, limit)


async def page_before(room_id: int, before: int | None, limit: int) -> list[Message]:
    """Up to ``limit`` messages older than id ``before`` (or the newest), oldest first, ready
    for their partial."""
    return await shown(await _before(room_id, before, limit))


async def page_after(room_id: int, after: int, limit: int) -> list[Message]:
    """Up to ``limit`` messages newer than id ``after``, oldest first, ready for their partial."""
    return await shown(await _after(room_id, after, limit))


async def _before(room_id: int, before: int | None, limit: int) -> list[Message]:
    query = Message.filter(room_id=room_id)
    if before is not None:
        query = query.filter(id__lt=before)
    rows = await query.order_by("-id").limit(limit).select_related("author")
    return rows[::-1]


async def _after(room_id: int, after: int, limit: int) -> list[Message]:
    return (
        await Message.filter(room_id=room_id, id__gt=after)
        .order_by("id")
        .limit(limit)
        .select_related("author")
    )


async def with_authors(message_ids: list[int]) -> list[Message]:
    """These messages, ready for their partial, oldest first (deleted ones are left out).
    Their reactions are read beside them, the ids being known: the fan-out's path to the
    sockets waits for one round trip fewer."""
    messages, reactions = await asyncio.gather(
        Message.filter(id__in=message_ids).order_by("id").select_related("author"),
        reaction_groups(message_ids),
    )
    return await shown(messages, reactions)


async def _ready[T](value: T) -> T:
    return value


async def _originals(ids: set[int]) -> dict[int, Message]:
    """The messages that replies quote, with their authors, by id."""
    if not ids:
        return {}
    return {row.id: row for row in await Message.filter(id__in=ids).select_related("author")}


async def in_batches(
    room_id: int | None = None,
    older_than: datetime | None = None,
    size: int = 1000,
    author_id: int | None = None,
) -> AsyncIterator[list[Message]]:
    """Messages oldest first (of one room, older than a time, by one author, as given),
    ``size`` at a time by keyset on id: any history in bounded memory.

    Rows deleted between batches do not disturb it (the next batch starts after the last id).
    """
    last_id = 0
    while True:
        query = Message.filter(id__gt=last_id)
        if room_id is not None:
            query = query.filter(room_id=room_id)
        if older_than is not None:
            query = query.filter(created_at__lt=older_than)
        if author_id is not None:
            query = query.filter(author_id=author_id)
        batch = await query.order_by("id").limit(size).select_related("author", "room")
        if batch:
            yield batch
        if len(batch) < size:
            return
        last_id = batch[-1].id


async def has_older(room_id: int, before: int) -> bool:
    """Whether the room has a message older than id ``before``."""
    # Ordered so that PostgreSQL walks an index from the cursor: an unordered LIMIT 1 was
    # planned as a sequential scan (68 ms in a room of 1,000,000 messages).
    query = Message.filter(room_id=room_id, id__lt=before).order_by("-id").limit(1)
    return bool(await query.values_list("id", flat=True))


async def has_newer(room_id: int, after: int) -> bool:
    """Whether the room has a message newer than id ``after``."""
    query = Message.filter(room_id=room_id, id__gt=after).order_by("id").limit(1)
    return bool(await query.values_list("id", flat=True))


@dataclass(frozen=True, slots=True)
class Page:
    """A page of messages, oldest first, and the cursors of the pages on either side: ``older``
    (the first message's id, for ``before=``) and ``newer`` (the last one's, for ``after=``),
    each None when there is nothing more that way."""

    messages: list[Message]
    older: int | None
    newer: int | None


def _last(rows: list[Message], count: int) -> list[Message]:
    return rows[len(rows) - count :] if len(rows) > count else rows


async def page(
    room_id: int,
    size: int,
    *,
    before: int | None = None,
    after: int | None = None,
    around: int | None = None,
) -> Page:
    """``size`` messages before ``before`` (the newest when no cursor is given), after
    ``after``, or around ``around`` (half before it, half from it on), with the cursors of the
    neighbouring pages.

    Each side that is read takes one row more than it shows, which tells whether a page lies
    beyond it; only a side that is not read at all (the cursor is no message of the room)
    costs a query of its own.
    """
    more_older: bool | None = None
    more_newer: bool | None = None
    # The cursor of an "Older" or "Newer" link is the id of a message the reader saw: the read
    # includes it when it is there (one row more), and then it is the neighbouring page, found
    # without a query of its own.
    if after is not None:
        rows = await _after(room_id, after - 1, size + 2)
        if rows and rows[0].id == after:
            del rows[0]
            more_older = True
        messages, more_newer = rows[:size], len(rows) > size
    elif around is not None:
        half = size // 2
        older_rows = await _before(room_id, around, half + 1)
        newer_rows = await _after(room_id, around - 1, size - half + 1)
        messages = _last(older_rows, half) + newer_rows[: size - half]
        more_older, more_newer = len(older_rows) > half, len(newer_rows) > size - half
    elif before is not None:
        rows = await _before(room_id, before + 1, size + 2)
        if rows and rows[-1].id == before:
            del rows[-1]
            more_newer = True
        messages, more_older = _last(rows, size), len(rows) > size
    else:
        rows = await _before(room_id, None, size + 1)
        messages, more_older, more_newer = _last(rows, size), len(rows) > size, False
    if not messages:
        return Page(messages, None, None)
    first, last = messages[0].id, messages[-1].id
    if more_older is None:
        more_older = await has_older(room_id, first)
    if more_newer is None:
        more_newer = await has_newer(room_id, last)
    await shown(messages)
    return Page(messages, first if more_older else None, last if more_newer else None)


async def recent_author_ids(room_id: int, most: int) -> list[int]:
    """Up to ``most`` distinct authors of the room's latest messages, most recent first."""
    rows = (
        await Message.filter(room_id=room_id)
        .order_by("-id")
        .limit(most * 4)
        .values_list("author_id", flat=True)
    )
    return list(dict.fromkeys(cast(list[int], rows)))[:most]
