"""What every signed-in page's frame shows: the sidebar (rooms, conversations) and the
header (the room's name for this viewer, its topic and member count)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chat_app.actions.rooms import may_create_rooms
from chat_app.models import Room, User
from chat_app.models.presence import MemberPresence, direct_partners


@dataclass(frozen=True, slots=True)
class Direct:
    """A conversation as the sidebar lists it: the room and its other people."""

    room: Room
    people: list[MemberPresence]

    @property
    def title(self) -> str:
        """The conversation's name for this viewer: the other people's names."""
        return ", ".join(person.username for person in self.people) or "Just you"


async def frame(user: User, rooms: list[Room], current: Room | None = None) -> dict[str, Any]:
    """The sidebar's rooms and conversations (one query more when there are conversations)
    and the current room's title for ``user``. Archived rooms leave the sidebar (as they do
    live, realtime/sidebar.py) but for the one shown."""
    rooms = [
        r for r in rooms if r.archived_at is None or (current is not None and r.id == current.id)
    ]
    plain = [room for room in rooms if not room.is_direct]
    conversations = [room for room in rooms if room.is_direct]
    partners = await direct_partners(user.id, [room.id for room in conversations])
    directs = [Direct(room, partners[room.id]) for room in conversations]
    directs.sort(key=lambda direct: direct.title)
    title = current.name if current is not None else ""
    if current is not None and current.is_direct:
        title = next(d.title for d in directs if d.room.id == current.id)
    return {
        "viewer": user,
        "viewer_id": user.id,
        "room": current,
        "rooms": plain,
        "directs": directs,
        "room_title": title,
        "can_create_rooms": may_create_rooms(user),
        "can_manage": current is not None
        and not current.is_direct
        and (user.is_admin or getattr(current, "viewer_role", "") == "admin"),
    }
