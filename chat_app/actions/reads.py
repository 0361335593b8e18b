"""Reading a room: a member's last read change moves forward, and their tabs hear of it."""

from __future__ import annotations

from chat_app.models import Membership
from chat_app.realtime import publish
from chat_app.realtime.events import ReadMoved


async def mark_read(user_id: int, room_id: int, change: int) -> bool:
    """``user_id`` has seen ``room_id`` up to ``change`` (the caller bounds it by what it
    showed them). It only moves forward: a late or repeated report changes nothing and
    publishes nothing; True when it moved, after the commit of the one conditional UPDATE."""
    moved = await Membership.filter(
        user_id=user_id, room_id=room_id, last_read_change__lt=change
    ).update(last_read_change=change)
    if not moved:
        return False
    await publish(ReadMoved(user_id=user_id, room_id=room_id))
    return True
