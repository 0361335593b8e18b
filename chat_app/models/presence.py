"""Presence: one row per user (status, last seen) and one per open socket (heartbeats)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from tortoise import fields
from tortoise.models import Model

from chat_app.models.rooms import Membership, Room
from chat_app.models.users import User


class UserPresence(Model):
    """Whether a user is online, their chosen status, and when they were last seen."""

    id = fields.IntField(primary_key=True)
    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "chat.User", related_name="presence", on_delete=fields.CASCADE
    )
    is_online = fields.BooleanField(default=False)
    status = fields.CharField(max_length=16, default="online")
    last_seen = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "user_presence"

    user_id: int


class LiveSocket(Model):
    """An open websocket on some node. A row whose heartbeat stops is swept as dead."""

    id = fields.CharField(max_length=36, primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "chat.User", related_name="live_sockets", on_delete=fields.CASCADE
    )
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "chat.Room", related_name="live_sockets", on_delete=fields.CASCADE
    )
    node = fields.CharField(max_length=64)
    opened_at = fields.DatetimeField(auto_now_add=True)
    seen_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "live_sockets"

    user_id: int
    room_id: int


@dataclass(frozen=True, slots=True)
class MemberPresence:
    """What the people list shows for one person."""

    user_id: int
    username: str
    online: bool
    status: str
    last_seen: datetime | None


async def _presence_for(users: list[User]) -> list[MemberPresence]:
    rows = {p.user_id: p for p in await UserPresence.filter(user_id__in=[u.id for u in users])}
    return [
        MemberPresence(
            user_id=u.id,
            username=u.username,
            online=bool(rows.get(u.id) and rows[u.id].is_online),
            status=rows[u.id].status if u.id in rows else "online",
            last_seen=rows[u.id].last_seen if u.id in rows else None,
        )
        for u in users
    ]


async def room_presence(
    room_id: int,
    *,
    only: Collection[int] | None = None,
    changed_since: datetime | None = None,
    latest: int | None = None,
) -> list[MemberPresence]:
    """The members of a room with their presence, by name: all of them, or ``only`` these,
    or only those whose presence changed at or after ``changed_since`` (the ``latest`` most
    recent such changes)."""
    query = User.filter(memberships__room_id=room_id, is_active=True)
    if only is not None:
        query = query.filter(id__in=list(only))
    if changed_since is not None:
        query = query.filter(presence__last_seen__gte=changed_since)
    if latest is not None:
        query = query.order_by("-presence__last_seen").limit(latest)
    members = sorted(await query, key=lambda u: u.username)
    return await _presence_for(members)


async def presence_visible_to(user_id: int) -> list[MemberPresence]:
    """Everyone who shares a room with ``user_id`` (themselves included), by name."""
    rooms = await Membership.filter(user_id=user_id).values_list("room_id", flat=True)
    people = (
        await User.filter(memberships__room_id__in=rooms, is_active=True)
        .distinct()
        .order_by("username")
    )
    return await _presence_for(people)
