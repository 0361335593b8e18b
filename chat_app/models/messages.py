"""Messages, ordered by an increasing id, and their keyset-paginated reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from tortoise import fields
from tortoise.models import Model

from chat_app.models.rooms import Room
from chat_app.models.users import User


class Message(Model):
    """One chat message. ``client_id`` makes a retried send store one copy."""

    id = fields.BigIntField(primary_key=True)
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "chat.Room", related_name="messages", on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "chat.User", related_name="messages", on_delete=fields.CASCADE
    )
    content = fields.TextField()
    client_id = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "messages"
        unique_together = (("author", "client_id"),)
        indexes = (("room_id", "id"),)

    room_id: int
    author_id: int


async def latest(room_id: int, limit: int) -> list[Message]:
    """The newest ``limit`` messages of a room, oldest first."""
    return await page_before(room_id, None, limit)


async def page_before(room_id: int, before: int | None, limit: int) -> list[Message]:
    """Up to ``limit`` messages older than id ``before`` (or the newest), oldest first."""
    query = Message.filter(room_id=room_id)
    if before is not None:
        query = query.filter(id__lt=before)
    rows = await query.order_by("-id").limit(limit).select_related("author")
    return rows[::-1]


async def page_after(room_id: int, after: int, limit: int) -> list[Message]:
    """Up to ``limit`` messages newer than id ``after``, oldest first."""
    return (
        await Message.filter(room_id=room_id, id__gt=after)
        .order_by("id")
        .limit(limit)
        .select_related("author")
    )


async def with_authors(message_ids: list[int]) -> list[Message]:
    """These messages with their authors loaded, ready to render, oldest first."""
    return await Message.filter(id__in=message_ids).order_by("id").select_related("author")


async def in_batches(
    room_id: int | None = None, older_than: datetime | None = None, size: int = 1000
) -> AsyncIterator[list[Message]]:
    """Messages oldest first, ``size`` at a time by keyset on id: any history in bounded memory.

    Rows deleted between batches do not disturb it (the next batch starts after the last id).
    """
    last_id = 0
    while True:
        query = Message.filter(id__gt=last_id)
        if room_id is not None:
            query = query.filter(room_id=room_id)
        if older_than is not None:
            query = query.filter(created_at__lt=older_than)
        batch = await query.order_by("id").limit(size).select_related("author", "room")
        if batch:
            yield batch
        if len(batch) < size:
            return
        last_id = batch[-1].id
