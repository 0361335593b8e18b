"""Rooms and membership: creating, joining, leaving, settings and members.

A room reaches these functions loaded through the actor's membership (``room_or_404``) or,
for joining, through the directory (open rooms only): who may do what is decided here.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import UTC, datetime

from quart import current_app
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from chat_app.actions.changes import is_moderator
from chat_app.models import Membership, Room, User
from chat_app.models.changes import newest_change
from chat_app.models.rooms import (
    EVERYONE_SETTINGS,
    NAME_MAX,
    TOPIC_MAX,
    RoomKind,
    open_room,
)
from chat_app.realtime import publish
from chat_app.realtime.events import MembershipEnded, MembershipStarted, RoomArchived

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
# Paths beside /rooms/<slug>, and the prefix of direct conversations' slugs.
RESERVED_SLUGS = frozenset({"new", "browse"})
DIRECT_PREFIX = "dm-"
USER_KINDS = (RoomKind.OPEN, RoomKind.PRIVATE)


class RoomError(ValueError):
    """A room change that cannot be made; ``str()`` says why (422 over HTTP)."""


class RoomNotFound(RoomError):
    """No such room for this user (404)."""


class RoomNotAllowed(RoomError):
    """The room is there, but this user may not do that to it (403)."""


class LastAdmin(RoomNotAllowed):
    """The room would be left without an admin while it still has members (409): another
    member must be made an admin first."""


class RoomTaken(RoomError):
    """Another room has that address already (409 over the API)."""


ROLES = ("member", "admin")


async def join_room(user: User, slug: str, name: str | None = None) -> Room:
    """Make ``user`` a member of room ``slug``, creating it (open) if needed. Idempotent.

    For code that knows the room is meant for them (sign-up's default room, the CLI, seeds):
    it publishes nothing (it may run outside the app), so open tabs show the room on their
    next load.

    A new member has read what was there before: only what comes after is unread for them.
    """
    room, _ = await Room.get_or_create(slug=slug, defaults={"name": name or slug.capitalize()})
    await become_member(user, room)
    return room


async def become_member(user: User, room: Room) -> bool:
    """``user`` joins ``room`` having read what was there before: only what comes after is
    unread for them. Idempotent: whether they joined now."""
    if await Membership.exists(user_id=user.id, room_id=room.id):
        return False
    read = await newest_change(room.id)
    _, created = await Membership.get_or_create(
        user=user, room=room, defaults={"last_read_change": read}
    )
    return created


async def _joined(user: User, room: Room) -> None:
    """``user`` is in ``room`` (idempotent); if new, their open tabs get its sidebar entry."""
    if await become_member(user, room):
        await publish(MembershipStarted(room_id=room.id, user_id=user.id))


def _clean_name(name: object) -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not 1 <= len(text) <= NAME_MAX:
        raise RoomError(f"Room names are 1 to {NAME_MAX} characters.")
    if not text.isprintable():
        raise RoomError("Room names cannot contain control characters or line breaks.")
    return text


def _clean_topic(topic: object) -> str:
    text = topic.strip() if isinstance(topic, str) else ""
    if len(text) > TOPIC_MAX:
        raise RoomError(f"Topics are at most {TOPIC_MAX} characters; this one has {len(text):,}.")
    if not text.isprintable():
        raise RoomError("Topics cannot contain control characters or line breaks.")
    return text


def _clean_kind(kind: object) -> RoomKind:
    if kind not in USER_KINDS:
        raise RoomError("A room is either open (anyone can find and join it) or private.")
    return RoomKind(str(kind))


def slug_from(name: str) -> str:
    """The address a room called ``name`` gets: lower-case ASCII letters, digits and '-'
    ("Design Review!" → "design-review"); a name with none gets a random one."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:64].rstrip("-")
    return slug or f"room-{secrets.token_hex(4)}"


def may_create_rooms(user: User) -> bool:
    """Whether ``user`` may create rooms (``CHAT_ROOM_CREATION``: everyone, or admins)."""
    return user.is_admin or current_app.config["ROOM_CREATION"] != "admins"


async def create_room_by(user: User, name: object, topic: object, kind: object) -> Room:
    """A new open or private room called ``name``, with ``user`` its first member and admin.

    Its address comes from the name; RoomError when another room (of any kind) has it.
    """
    if not may_create_rooms(user):
        raise RoomNotAllowed("Only workspace admins can create rooms here.")
    clean_name, clean_topic, clean_kind = _clean_name(name), _clean_topic(topic), _clean_kind(kind)
    slug = slug_from(clean_name)
    if slug in RESERVED_SLUGS or slug.startswith(DIRECT_PREFIX):
        raise RoomError(f"The address #{slug} is reserved: choose another name.")
    try:
        async with in_transaction():
            room = await Room.create(
                slug=slug, name=clean_name, topic=clean_topic, kind=clean_kind, created_by=user
            )
            await Membership.create(user=user, room=room, role="admin")
    except IntegrityError:
        raise RoomTaken(
            f"A room with the address #{slug} already exists (it may be private): "
            "choose another name."
        ) from None
    await publish(MembershipStarted(room_id=room.id, user_id=user.id))
    return room


async def create_room(slug: str, name: str | None = None) -> tuple[Room, bool]:
    """The open room ``slug``, created if missing, and whether it was created. Idempotent
    (the CLI's)."""
    if not SLUG_RE.fullmatch(slug):
        raise RoomError(
            "Room slugs are 1 to 64 characters: lower-case letters, digits and '-', "
            "starting with a letter or digit."
        )
    return await Room.get_or_create(slug=slug, defaults={"name": _clean_name(name or slug)})


async def join_open_room(user: User, slug: str) -> Room:
    """Make ``user`` a member of the open room ``slug``; RoomNotFound for any other (private
    rooms and conversations are joined only by being added). Idempotent."""
    room = await open_room(slug)
    if room is None:
        raise RoomNotFound("There is no such open room.")
    await _joined(user, room)
    return room


def _is_default(room: Room) -> bool:
    return bool(room.slug == current_app.config["DEFAULT_ROOM"])


async def leave_room(user: User, room: Room) -> None:
    """End ``user``'s membership of ``room``; their sockets to it close (other rooms stay)."""
    if room.is_direct:
        raise RoomNotAllowed("A conversation keeps its people; it cannot be left.")
    if _is_default(room):
        raise RoomNotAllowed(f"Everyone stays in #{room.slug}: it cannot be left.")
    async with in_transaction():
        await _check_not_last_admin(room, user.id, "leave")
        deleted = await Membership.filter(user_id=user.id, room_id=room.id).delete()
    if deleted:
        await publish(MembershipEnded(room_id=room.id, user_id=user.id))


async def _check_not_last_admin(room: Room, user_id: int, doing: str) -> None:
    """Refuse when ``user_id`` is the only admin of ``room`` and others remain (inside the
    change's transaction; the room's admins are few, so this reads their rows only)."""
    admins = await Membership.filter(room_id=room.id, role="admin").values_list("user_id")
    if [int(row[0]) for row in admins] != [user_id]:
        return
    if await Membership.filter(room_id=room.id).exclude(user_id=user_id).exists():
        raise LastAdmin(
            f"You are the only admin of #{room.name}: make another member an admin "
            f"(on the room's settings page) before you {doing}."
        )


async def may_manage(user: User, room: Room) -> bool:
    """Whether ``user`` (a member: the room came through their membership) may change the
    room's settings and remove members: its admins (the creator) and workspace admins."""
    return not room.is_direct and await is_moderator(user, room)


async def _check_manager(user: User, room: Room) -> None:
    if not await may_manage(user, room):
        raise RoomNotAllowed("Only this room's admins can change that.")


def _clean_everyone(everyone: object, current: str) -> str:
    if everyone is None:
        return current
    if everyone not in EVERYONE_SETTINGS:
        raise RoomError("@everyone is either for the room's admins or for every member.")
    return str(everyone)


async def update_room(
    user: User, room: Room, name: object, topic: object, kind: object, everyone: object = None
) -> None:
    """Rename ``room``, set its topic, whether it is open or private, and whose
    ``@everyone`` notifies it (``EVERYONE_SETTINGS``; None keeps it) — its admins."""
    await _check_manager(user, room)
    clean_name, clean_topic, clean_kind = _clean_name(name), _clean_topic(topic), _clean_kind(kind)
    clean_everyone = _clean_everyone(everyone, room.everyone_mentions)
    if _is_default(room) and clean_kind != RoomKind.OPEN:
        raise RoomError(f"#{room.slug} is where everyone starts: it stays open.")
    room.name, room.topic, room.kind = clean_name, clean_topic, clean_kind
    room.everyone_mentions = clean_everyone
    await room.save(update_fields=["name", "topic", "kind", "everyone_mentions"])


async def add_member(user: User, room: Room, username: object) -> User:
    """Add the active user called ``username`` to ``room``: any member may, in open and
    private rooms (a conversation keeps its people). Idempotent."""
    if room.is_direct:
        raise RoomNotAllowed("A conversation keeps its people: start a new one instead.")
    if room.archived_at is not None:
        raise RoomNotAllowed("This room is archived: it takes no new members.")
    name = username.strip().lower() if isinstance(username, str) else ""
    # What no username can be never reaches the database (a NUL is an error on PostgreSQL).
    possible = 0 < len(name) <= 32 and name.isprintable()
    person = await User.get_or_none(username=name, is_active=True) if possible else None
    if person is None:
        raise RoomError("There is nobody with that username.")
    await _joined(person, room)
    return person


def _user_id_from(raw: object) -> int:
    text = str(raw) if isinstance(raw, int | str) else ""
    if not (text.isascii() and text.isdigit() and 0 < len(text) <= 18):
        raise RoomNotFound("There is no such member.")
    return int(text)


async def remove_member(user: User, room: Room, member_id: object) -> None:
    """Take member ``member_id`` out of ``room`` (its admins); their sockets to it close at
    once and the page says why. Removing oneself is leaving."""
    target = _user_id_from(member_id)
    if target == user.id:
        await leave_room(user, room)
        return
    await _check_manager(user, room)
    if _is_default(room):
        raise RoomNotAllowed(f"Everyone stays in #{room.slug}.")
    if not await Membership.filter(user_id=target, room_id=room.id).delete():
        raise RoomNotFound("There is no such member.")
    await publish(MembershipEnded(room_id=room.id, user_id=target, removed=True))


async def set_role(user: User, room: Room, member_id: object, role: object) -> None:
    """Make member ``member_id`` of ``room`` an admin or a plain member (its admins). The last
    admin cannot step down while others remain: they make someone else an admin first."""
    await _check_manager(user, room)
    if role not in ROLES:
        raise RoomError("A member is either an admin of the room or not.")
    target = _user_id_from(member_id)
    async with in_transaction():
        if role == "member":
            await _check_not_last_admin(room, target, "step down")
        if not await Membership.filter(user_id=target, room_id=room.id).update(role=role):
            raise RoomNotFound("There is no such member.")


async def rename_room(room: Room, name: str) -> None:
    """Give ``room`` a new display name (its slug, and so its links, stay)."""
    room.name = _clean_name(name)
    await room.save(update_fields=["name"])


async def archive_room(room: Room) -> bool:
    """Mark ``room`` archived; False if it already was. Idempotent."""
    if room.archived_at is not None:
        return False
    room.archived_at = datetime.now(UTC)
    await room.save(update_fields=["archived_at"])
    await publish(RoomArchived(room_id=room.id))  # it leaves its members' sidebars
    return True


async def archive_room_by(user: User, room: Room) -> bool:
    """Archive ``room`` as its admin: readable, no longer written to (see ``archive_room``)."""
    await _check_manager(user, room)
    if _is_default(room):
        raise RoomNotAllowed(f"#{room.slug} is where everyone starts: it cannot be archived.")
    return await archive_room(room)
