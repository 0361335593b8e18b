"""Room membership."""

from __future__ import annotations

from chat_app.models import Membership, Room, User


async def join_room(user: User, slug: str, name: str | None = None) -> Room:
    """Make ``user`` a member of room ``slug``, creating the room if needed. Idempotent."""
    room, _ = await Room.get_or_create(slug=slug, defaults={"name": name or slug.capitalize()})
    await Membership.get_or_create(user=user, room=room)
    return room
