"""Presence: one row per user (status, last seen) and one per open socket (heartbeats)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from tortoise import fields
from tortoise.models import Model
from tortoise.queryset import QuerySet

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
        indexes = (("node",),)  # each node refreshes its own rows every few seconds

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


async def _presence_of(people: QuerySet[User]) -> list[MemberPresence]:
    """``people`` with their presence rows, in one query (a user without one is offline)."""
    rows = await people.values(
        "id", "username", "presence__is_online", "presence__status", "presence__last_seen"
    )
    return [
        MemberPresence(
            user_id=row["id"],
            username=row["username"],
            online=bool(row["presence__is_online"]),
            status=row["presence__status"] or "online",
            last_seen=row["presence__last_seen"],
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class RoomPeople:
    """A room's people list: its first members by name (all of them in a small room), and
    how many members it has and how many of them are online."""

    shown: list[MemberPresence]
    members: int
    online: int

    @property
    def complete(self) -> bool:
        """Everyone is shown."""
        return len(self.shown) >= self.members


async def room_presence(room_id: int) -> list[MemberPresence]:
    """The members of a room with their presence, by name."""
    return await _presence_of(_members(room_id).order_by("username"))


async def room_people(room_id: int, most: int) -> RoomPeople:
    """The people list of ``room_id`` showing its first ``most`` members by name: one query
    when that is everyone, three otherwise (a list of thousands is megabytes on every page
    and in every socket's updates)."""
    members = _members(room_id)
    shown = await _presence_of(members.order_by("username").limit(most))
    if len(shown) < most:
        return RoomPeople(shown, len(shown), sum(person.online for person in shown))
    return RoomPeople(
        shown, await members.count(), await members.filter(presence__is_online=True).count()
    )


def _members(room_id: int) -> QuerySet[User]:
    return User.filter(memberships__room_id=room_id, is_active=True)


async def presence_visible_to(user_id: int) -> list[MemberPresence]:
    """Everyone who shares a room with ``user_id`` (themselves included), by name."""
    rooms = await Membership.filter(user_id=user_id).values_list("room_id", flat=True)
    return await _presence_of(
        User.filter(memberships__room_id__in=rooms, is_active=True).distinct().order_by("username")
    )


async def direct_partners(
    viewer_id: int, room_ids: Collection[int]
) -> dict[int, list[MemberPresence]]:
    """For each direct conversation in ``room_ids``, its other members with their presence, by
    name (what names the conversation for ``viewer_id``, and its dots): one query."""
    if not room_ids:
        return {}
    rows = (
        await Membership.filter(room_id__in=list(room_ids))
        .exclude(user_id=viewer_id)
        .order_by("user__username")
        .values(
            "room_id",
            "user_id",
            "user__username",
            "user__presence__is_online",
            "user__presence__status",
            "user__presence__last_seen",
        )
    )
    partners: dict[int, list[MemberPresence]] = {room_id: [] for room_id in room_ids}
    for row in rows:
        partners[row["room_id"]].append(
            MemberPresence(
                user_id=row["user_id"],
                username=row["user__username"],
                online=bool(row["user__presence__is_online"]),
                status=row["user__presence__status"] or "online",
                last_seen=row["user__presence__last_seen"],
            )
        )
    return partners
