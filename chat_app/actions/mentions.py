"""Mentions: which room members a message names, written with the message, re-read on edits.

``@everyone`` mentions the whole room when its author may do that (a room or workspace admin,
or any member where the room's ``everyone_mentions`` setting says so: ``may_mention_everyone``);
anyone else's ``@everyone`` stays plain text: the message goes
out, nobody is notified, and the composer never suggests it to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from chat_app.actions.changes import is_moderator
from chat_app.models import Membership, Room, User
from chat_app.models.mentions import EVERYONE, Mention, mentioned_names
from chat_app.models.rooms import EVERYONE_BY_MEMBERS


@dataclass(frozen=True, slots=True)
class Mentions:
    """Whom a message mentions: members by id, and whether it mentions everyone."""

    user_ids: frozenset[int]
    everyone: bool

    def __bool__(self) -> bool:
        return bool(self.user_ids) or self.everyone


NONE = Mentions(frozenset(), False)


async def may_mention_everyone(user: User, room: Room) -> bool:
    """Whether ``user`` (a member: the room came through their membership) may notify the
    whole ``room`` with ``@everyone``: its admins and workspace admins, or every member when
    the room's setting allows it."""
    if room.everyone_mentions == EVERYONE_BY_MEMBERS:
        return True
    return await is_moderator(user, room)


async def mentions_in(author: User, room: Room, text: str) -> Mentions:
    """Whom ``text`` mentions in ``room``: names of its members (any case), and ``@everyone``
    if the author may. Reads only; none at all for a text without "@"."""
    names = mentioned_names(text) if "@" in text else set()
    if not names:
        return NONE
    everyone = EVERYONE in names and await may_mention_everyone(author, room)
    names.discard(EVERYONE)
    ids: list[int] = []
    if names:
        found = Membership.filter(room_id=room.id, user__username__in=sorted(names))
        ids = [int(u) for u in await found.values_list("user_id", flat=True)]  # type: ignore[call-overload]
    return Mentions(frozenset(ids), everyone)


async def write_mentions(
    message_id: int, room_id: int, author_id: int, change: int, mentions: Mentions
) -> None:
    """Store a new message's mentions (inside its transaction)."""
    if mentions:
        await Mention.bulk_create(_rows(message_id, room_id, author_id, change, mentions))


async def rewrite_mentions(
    message_id: int, room_id: int, author_id: int, change: int, mentions: Mentions
) -> Mentions:
    """An edited message's mentions (inside its transaction): those gone are removed, those
    kept keep their change, new ones come with the edit's ``change``. Returns the new ones."""
    rows = await Mention.filter(message_id=message_id).values_list("id", "user_id")
    had = {user_id: row_id for row_id, user_id in rows}
    wanted: set[int | None] = set(mentions.user_ids) | ({None} if mentions.everyone else set())
    gone = [row_id for user_id, row_id in had.items() if user_id not in wanted]
    if gone:
        await Mention.filter(id__in=gone).delete()
    added = Mentions(
        frozenset(u for u in mentions.user_ids if u not in had),
        mentions.everyone and None not in had,
    )
    await write_mentions(message_id, room_id, author_id, change, added)
    return added


def _rows(
    message_id: int, room_id: int, author_id: int, change: int, mentions: Mentions
) -> list[Mention]:
    who: list[int | None] = [*sorted(mentions.user_ids)]
    if mentions.everyone:
        who.append(None)
    return [
        Mention(
            message_id=message_id, room_id=room_id, user_id=u, author_id=author_id, change=change
        )
        for u in who
    ]
