"""Direct conversations: one room per set of people, found again by its members' key."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from quart import current_app
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from chat_app.actions.rooms import DIRECT_PREFIX, RoomError
from chat_app.models import Membership, Room, User
from chat_app.models.rooms import NAME_MAX, RoomKind, default_notify_level
from chat_app.realtime import publish
from chat_app.realtime.events import MembershipStarted

USER_ID_DIGITS = 18


def direct_key(user_ids: Iterable[int]) -> str:
    """The key of the conversation between exactly these people: their sorted ids."""
    return ",".join(str(i) for i in sorted(set(user_ids)))


def _ids_from(raw_ids: Iterable[object]) -> set[int]:
    ids = set()
    for raw in raw_ids:
        text = str(raw).strip() if isinstance(raw, int | str) else ""
        if not (text.isascii() and text.isdigit() and 0 < len(text) <= USER_ID_DIGITS):
            raise RoomError("Pick people from the list.")
        ids.add(int(text))
    return ids


async def open_direct(user: User, raw_ids: Iterable[object]) -> Room:
    """The conversation between ``user`` and the people ``raw_ids`` names (user ids from a
    form), started if there is none yet: starting it again opens the same one."""
    most: int = current_app.config["DIRECT_MAX_MEMBERS"]
    others = _ids_from(list(raw_ids)[: most * 4]) - {user.id}  # more than that is refused anyway
    if not others:
        raise RoomError("Pick at least one other person.")
    if len(others) + 1 > most:
        raise RoomError(f"A conversation has at most {most} people, you included.")
    people = await User.filter(id__in=sorted(others), is_active=True).order_by("username")
    if len(people) != len(others):
        raise RoomError("Some of those people are not here (any more).")
    key = direct_key([user.id, *others])
    existing = await Room.get_or_none(direct_key=key)
    if existing is not None:
        return existing
    members = sorted([user, *people], key=lambda person: person.username)
    name = ", ".join(person.username for person in members)[:NAME_MAX]
    try:
        async with in_transaction():
            room = await Room.create(
                slug=DIRECT_PREFIX + secrets.token_hex(8),
                name=name,
                kind=RoomKind.DIRECT,
                direct_key=key,
                created_by=user,
            )
            level = default_notify_level(is_direct=True)  # every message of a DM notifies
            await Membership.bulk_create(
                [Membership(user=p, room=room, notify=level) for p in members]
            )
    except IntegrityError:
        raced = await Room.get_or_none(direct_key=key)  # the same people, started at once
        if raced is None:
            raise
        return raced
    for person in members:  # the conversation appears in each one's sidebar, on every tab
        await publish(MembershipStarted(room_id=room.id, user_id=person.id))
    return room
