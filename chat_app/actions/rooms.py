"""Rooms and membership."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from chat_app.models import Membership, Room, User
from chat_app.models.changes import newest_change

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
NAME_MAX = 100


class RoomError(ValueError):
    """A room change that cannot be made; ``str()`` says why."""


async def join_room(user: User, slug: str, name: str | None = None) -> Room:
    """Make ``user`` a member of room ``slug``, creating the room if needed. Idempotent.

    A new member has read what was there before: only what comes after is unread for them.
    """
    room, _ = await Room.get_or_create(slug=slug, defaults={"name": name or slug.capitalize()})
    if not await Membership.exists(user_id=user.id, room_id=room.id):
        read = await newest_change(room.id)
        await Membership.get_or_create(user=user, room=room, defaults={"last_read_change": read})
    return room


def _clean_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise RoomError(f"Room names are 1 to {NAME_MAX} characters.")
    return name


async def create_room(slug: str, name: str | None = None) -> tuple[Room, bool]:
    """The room ``slug``, created if missing, and whether it was created. Idempotent."""
    if not SLUG_RE.fullmatch(slug):
        raise RoomError(
            "Room slugs are 1 to 64 characters: lower-case letters, digits and '-', "
            "starting with a letter or digit."
        )
    return await Room.get_or_create(slug=slug, defaults={"name": _clean_name(name or slug)})


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
    return True
