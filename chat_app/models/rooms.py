"""Rooms and who belongs to them.

Every read of a room goes through the viewer's membership (``room_for_member``,
``rooms_of``): a private room or a direct conversation does not exist for anyone else. Only
the directory (``open_rooms``, ``open_room``) reads rooms without a membership, and only open
ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import cast

from tortoise import fields
from tortoise.functions import Count
from tortoise.models import Model

from chat_app.models.compiled import Compiled
from chat_app.models.users import User, in_session

SLUG_MAX = 64
NAME_MAX = 100
TOPIC_MAX = 250
DIRECT_KEY_MAX = 200  # 8 member ids of up to 20 digits, comma-separated


class RoomKind(StrEnum):
    """Who can find a room: anyone (open), its members (private), or a set of people (direct)."""

    OPEN = "open"
    PRIVATE = "private"
    DIRECT = "direct"


# How much of a room reaches a member who is not looking: every message, only those that
# mention them (or everyone), or nothing.
NOTIFY_ALL, NOTIFY_MENTIONS, NOTIFY_NONE = "all", "mentions", "none"
NOTIFY_LEVELS = (NOTIFY_ALL, NOTIFY_MENTIONS, NOTIFY_NONE)

# Whose ``@everyone`` notifies the whole room: its admins (and workspace admins), or any member.
EVERYONE_BY_ADMINS, EVERYONE_BY_MEMBERS = "admins", "members"
EVERYONE_SETTINGS = (EVERYONE_BY_ADMINS, EVERYONE_BY_MEMBERS)


def default_notify_level(is_direct: bool) -> str:
    """A new membership's level: a direct message is written to you, so you hear all of it;
    in a room, only what mentions you."""
    return NOTIFY_ALL if is_direct else NOTIFY_MENTIONS


class Room(Model):
    """A place where members chat, addressed by its slug."""

    id = fields.IntField(primary_key=True)
    slug = fields.CharField(max_length=SLUG_MAX, unique=True)
    name = fields.CharField(max_length=NAME_MAX)
    kind = fields.CharEnumField(RoomKind, max_length=16, default=RoomKind.OPEN, db_default="open")
    topic = fields.CharField(max_length=TOPIC_MAX, default="", db_default="")
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "chat.User", related_name="rooms_created", null=True, on_delete=fields.SET_NULL
    )
    # A direct conversation's members as their sorted ids ("3,8,12"): one conversation per set
    # of people, kept so by this unique key (NULL, and so never equal, for other rooms).
    direct_key = fields.CharField(max_length=DIRECT_KEY_MAX, null=True, unique=True)
    archived_at = fields.DatetimeField(null=True)
    # One of EVERYONE_SETTINGS (see actions/mentions.py: may_mention_everyone).
    everyone_mentions = fields.CharField(
        max_length=8, default=EVERYONE_BY_ADMINS, db_default=EVERYONE_BY_ADMINS
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "rooms"

    # Set by the membership queries below: the viewer's role in this room ("member"/"admin").
    viewer_role: str
    viewer_notify: str  # with viewer_role: the viewer's membership, read with the room
    created_by_id: int | None

    def __str__(self) -> str:
        return self.name

    @property
    def is_direct(self) -> bool:
        """Whether this is a direct conversation (named by its members, no settings)."""
        return self.kind == RoomKind.DIRECT


class Membership(Model):
    """A user belongs to a room. Reading or posting in a room goes through this row."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "chat.User", related_name="memberships", on_delete=fields.CASCADE
    )
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "chat.Room", related_name="memberships", on_delete=fields.CASCADE
    )
    # "admin": may moderate the room (delete anyone's messages); its creator is one.
    role = fields.CharField(max_length=16, default="member", db_default="member")
    joined_at = fields.DatetimeField(auto_now_add=True)
    # One of NOTIFY_LEVELS; memberships of direct rooms are made with default_notify_level(True).
    notify = fields.CharField(max_length=8, default=NOTIFY_MENTIONS, db_default=NOTIFY_MENTIONS)
    # The newest change of the room this member has seen (models/unread.py counts what is
    # after it); it only moves forward (actions/reads.py).
    last_read_change = fields.BigIntField(default=0, db_default=0)

    class Meta:
        table = "memberships"
        unique_together = (("user", "room"),)
        indexes = (("room_id",),)  # a room's members: the unique key leads with the user


def possible_slug(slug: str) -> bool:
    """Whether some room could be called ``slug``: what none can never reaches the database
    (NUL, lone surrogates or 10 MB would be database errors, i.e. 500s, not 404s)."""
    return 0 < len(slug) <= SLUG_MAX and slug.isprintable()


def _with_roles(memberships: list[Membership]) -> list[Room]:
    rooms = []
    for membership in memberships:
        membership.room.viewer_role = membership.role
        membership.room.viewer_notify = membership.notify
        rooms.append(membership.room)
    return rooms


_MEMBER_ROOM = Compiled(
    lambda user_id, slug: (
        Membership.filter(user_id=user_id, room__slug=slug).select_related("room").first()
    ),
    markers=(-1, "\0slug"),
    related=("room",),
)


async def room_for_member(user_id: int, slug: str) -> Room | None:
    """The room called ``slug`` if ``user_id`` belongs to it (with ``viewer_role``), else None
    (outsiders get 404): one query, built once."""
    if not possible_slug(slug):
        return None
    found = await _MEMBER_ROOM.first(user_id, slug)
    return _with_roles([found])[0] if found is not None else None


_SESSION_MEMBER_ROOM = Compiled(
    lambda token, now, slug: (
        Membership.filter(in_session(token, via="user__", now=now), room__slug=slug)
        .select_related("user", "room")
        .first()
    ),
    markers=("\0token", datetime(1, 1, 1, tzinfo=UTC), "\0slug"),
    related=("user", "room"),
)


async def session_member_room(token: str, slug: str) -> tuple[User, Room] | None:
    """The active user of the unexpired session ``token`` and the room called ``slug`` (with
    ``viewer_role``) if they belong to it, in one query (built once: it runs for every
    websocket handshake); None if either is not so."""
    if not possible_slug(slug):
        return None
    found = await _SESSION_MEMBER_ROOM.first(token, datetime.now(UTC), slug)
    return (found.user, _with_roles([found])[0]) if found is not None else None


async def rooms_of(user_id: int) -> list[Room]:
    """Every room the user belongs to (direct conversations too), by name, with
    ``viewer_role`` set: one query."""
    memberships = (
        await Membership.filter(user_id=user_id).select_related("room").order_by("room__name")
    )
    return _with_roles(memberships)


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """An open room as the directory lists it."""

    room: Room
    members: int
    joined: bool


async def open_rooms(user_id: int) -> list[DirectoryEntry]:
    """Every open room that is not archived, by name, with its member count and whether
    ``user_id`` is in it: two queries."""
    rooms = (
        await Room.filter(kind=RoomKind.OPEN, archived_at__isnull=True)
        .annotate(members=Count("memberships"))
        .order_by("name")
    )
    mine = set(
        cast(
            list[int],
            await Membership.filter(user_id=user_id, room__kind=RoomKind.OPEN).values_list(
                "room_id", flat=True
            ),
        )
    )
    return [
        DirectoryEntry(room, int(getattr(room, "members", 0)), room.id in mine) for room in rooms
    ]


async def open_room(slug: str) -> Room | None:
    """The open, unarchived room called ``slug`` (anyone may find and join it), else None."""
    if not possible_slug(slug):
        return None
    return await Room.get_or_none(slug=slug, kind=RoomKind.OPEN, archived_at__isnull=True)


async def member_count(room_id: int) -> int:
    """How many active people belong to ``room_id``."""
    return await Membership.filter(room_id=room_id, user__is_active=True).count()


@dataclass(frozen=True, slots=True)
class Member:
    """One member of a room as its settings page lists them."""

    user_id: int
    username: str
    role: str


async def members_of(room_id: int) -> list[Member]:
    """The active members of ``room_id`` by name, with their role."""
    rows = (
        await Membership.filter(room_id=room_id, user__is_active=True)
        .order_by("user__username")
        .values("user_id", "user__username", "role")
    )
    return [Member(row["user_id"], row["user__username"], row["role"]) for row in rows]
