"""The change log: one numbered row per change to a room's messages, in commit order.

A tab's resume cursor is the newest change it has applied. Numbers follow commit order within
a room (PostgreSQL: migration 0005's trigger takes them under the room's row lock; SQLite has
one writer), so once change N of a room is visible every smaller one of that room is visible
or was rolled back: reading "every change after the last one delivered" never opens a gap,
whatever order the broker brings the events in.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from tortoise import fields
from tortoise.functions import Max
from tortoise.models import Model

from chat_app.models.rooms import Room
from chat_app.models.users import IN_LIST_BATCH


class ChangeKind(StrEnum):
    POSTED = "posted"
    EDITED = "edited"
    DELETED = "deleted"
    REACTED = "reacted"
    PREVIEWED = "previewed"  # its link preview was attached, replaced or removed


class Change(Model):
    """Something happened to message ``message_id`` of ``room``. ``message_id`` is no foreign
    key: the row outlives a deleted message, since its deletion is the change to replay."""

    id = fields.BigIntField(primary_key=True)
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "chat.Room", related_name="changes", on_delete=fields.CASCADE
    )
    message_id = fields.BigIntField()
    kind = fields.CharEnumField(ChangeKind, max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "changes"
        indexes = (("room_id", "id"),)

    room_id: int


@dataclass(frozen=True, slots=True)
class Logged:
    """One change as fan-out and catch-up read it."""

    change: int
    message_id: int
    kind: ChangeKind


async def newest_change(room_id: int) -> int:
    """The number of the room's newest change, 0 when it has none (a page's resume cursor)."""
    rows = await Change.filter(room_id=room_id).order_by("-id").limit(1).values_list("id")
    return int(rows[0][0]) if rows else 0


async def changes_after(room_id: int, after: int, limit: int) -> list[Logged]:
    """Up to ``limit`` changes of the room numbered above ``after``, oldest first."""
    rows = (
        await Change.filter(room_id=room_id, id__gt=after)
        .order_by("id")
        .limit(limit)
        .values_list("id", "message_id", "kind")
    )
    return [Logged(int(n), int(m), ChangeKind(k)) for n, m, k in rows]


async def newest_changes(room_ids: Collection[int]) -> dict[int, int]:
    """Each of these rooms' newest change (rooms without any are left out): a query per
    IN_LIST_BATCH rooms, each answered from the (room_id, id) index."""
    newest: dict[int, int] = {}
    for batch in itertools.batched(sorted(room_ids), IN_LIST_BATCH, strict=False):
        rows = (
            await Change.filter(room_id__in=batch)
            .group_by("room_id")
            .annotate(newest=Max("id"))
            .values_list("room_id", "newest")
        )
        newest.update({int(room): int(change) for room, change in rows})
    return newest
