"""What each member has not read: unread messages and mentions after their last read change.

One query answers for any set of memberships (a page's whole sidebar, or the members of one
room a fan-out updates): a correlated count per membership, each stopped at UNREAD_CAP rows,
so a room unread for a year costs no more than one with a hundred new messages.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from tortoise import connections

from chat_app.models.mentions import Mention
from chat_app.models.rooms import Room

UNREAD_CAP = 100  # shown as "99+"

_COUNTS = """
SELECT mb.room_id, mb.user_id, mb.last_read_change,
  (SELECT COUNT(*) FROM (
     SELECT 1 FROM changes c JOIN messages m ON m.id = c.message_id
      WHERE c.room_id = mb.room_id AND c.kind = 'posted' AND c.id > mb.last_read_change
        AND m.author_id <> mb.user_id
      LIMIT {cap}) AS unread_rows) AS unread,
  (SELECT COUNT(*) FROM (
     SELECT DISTINCT n.message_id FROM mentions n
      WHERE n.room_id = mb.room_id AND n.change > mb.last_read_change
        AND (n.user_id = mb.user_id OR n.user_id IS NULL) AND n.author_id <> mb.user_id
      LIMIT {cap}) AS mention_rows) AS mentioned
FROM memberships mb
WHERE {where}
"""

_TOUCHED = """
SELECT c.room_id, c.id, c.kind, c.message_id, m.author_id
  FROM changes c LEFT JOIN messages m ON m.id = c.message_id
 WHERE c.kind IN ('posted', 'edited', 'deleted') AND c.id IN ({marks})
"""

_FIRST_UNREAD = """
SELECT c.message_id FROM changes c JOIN messages m ON m.id = c.message_id
 WHERE c.room_id = ? AND c.kind = 'posted' AND c.id > ? AND m.author_id <> ?
 ORDER BY c.id LIMIT 1
"""


@dataclass(frozen=True, slots=True)
class Unread:
    """One member's state in one room: how many messages of others they have not read, and
    how many of those (or of edits since) mention them; each at most UNREAD_CAP."""

    room_id: int
    user_id: int
    last_read: int
    messages: int
    mentions: int


NOTHING_UNREAD = Unread(0, 0, 0, 0, 0)


async def _rows(sql: str, params: list[object]) -> list[dict[str, object]]:
    """Run ``sql`` written with ``?`` placeholders on either dialect."""
    client = connections.get("default")
    if client.capabilities.dialect == "postgres":
        parts = sql.split("?")
        sql = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))
    _, rows = await client.execute_query(sql, params)
    return [dict(row) for row in rows]


def _unread(row: dict[str, object]) -> Unread:
    return Unread(
        int(str(row["room_id"])),
        int(str(row["user_id"])),
        int(str(row["last_read_change"])),
        int(str(row["unread"])),
        int(str(row["mentioned"])),
    )


async def unread_of(user_id: int) -> dict[int, Unread]:
    """The user's state in each of their rooms, by room id (one query)."""
    sql = _COUNTS.format(cap=UNREAD_CAP, where="mb.user_id = ?")
    return {u.room_id: u for u in map(_unread, await _rows(sql, [user_id]))}


async def unread_in(room_id: int, user_ids: Collection[int]) -> dict[int, Unread]:
    """The state of these members of one room, by user id (one query)."""
    if not user_ids:
        return {}
    ids = sorted(user_ids)
    marks = ", ".join("?" for _ in ids)
    sql = _COUNTS.format(cap=UNREAD_CAP, where=f"mb.room_id = ? AND mb.user_id IN ({marks})")
    return {u.user_id: u for u in map(_unread, await _rows(sql, [room_id, *ids]))}


async def first_unread(room_id: int, user_id: int, last_read: int) -> int | None:
    """The id of the oldest message of others posted after change ``last_read``, if any."""
    rows = await _rows(_FIRST_UNREAD, [room_id, last_read, user_id])
    return int(str(rows[0]["message_id"])) if rows else None


def is_direct(room: Room) -> bool:
    """Whether every message of ``room`` counts like a mention (a direct conversation).

    HOOK for the rooms branch (Room.kind): until rooms have a kind, no room is direct.
    """
    return str(getattr(room, "kind", "")) == "direct"


def badge_count(room: Room, unread: Unread) -> int:
    """The number a sidebar entry shows: unread messages in a direct conversation, else
    mentions (0: no number, the entry is only bold when there is something unread)."""
    return unread.messages if is_direct(room) else unread.mentions


@dataclass(frozen=True, slots=True)
class Posted:
    """Message ``message_id``, posted as change ``change`` of a room by ``author_id``."""

    room_id: int
    change: int
    message_id: int
    author_id: int


@dataclass(frozen=True, slots=True)
class Touched:
    """What a batch of changes did to what members have to read: the messages posted (and
    still there), and per room the newest edit or deletion (which may take an unread message
    or a mention back)."""

    posted: list[Posted]
    retracted: dict[int, int]  # room id -> newest edit or deletion among the changes


async def touched_among(changes: Collection[int]) -> Touched:
    """What ``changes`` did (see Touched); reactions do nothing here. One query."""
    if not changes:
        return Touched([], {})
    ids = sorted(changes)
    marks = ", ".join("?" for _ in ids)  # placeholders only: the values are parameters
    posted: list[Posted] = []
    retracted: dict[int, int] = {}
    for r in await _rows(_TOUCHED.format(marks=marks), list(ids)):
        room_id, change = int(str(r["room_id"])), int(str(r["id"]))
        if r["kind"] != "posted":
            retracted[room_id] = max(retracted.get(room_id, 0), change)
        elif r["author_id"] is not None:  # posted, and not deleted since
            posted.append(
                Posted(room_id, change, int(str(r["message_id"])), int(str(r["author_id"])))
            )
    return Touched(posted, retracted)


@dataclass(frozen=True, slots=True)
class MentionMade:
    """``user_id`` (None: everyone) was mentioned in a room by ``author_id``, in ``change``."""

    room_id: int
    user_id: int | None
    author_id: int
    change: int


async def mentions_among(changes: Collection[int]) -> list[MentionMade]:
    """The mentions that ``changes`` brought in (posts, or edits adding a name): one query."""
    if not changes:
        return []
    rows = await Mention.filter(change__in=sorted(changes)).values_list(
        "room_id", "user_id", "author_id", "change"
    )
    return [
        MentionMade(int(r), None if u is None else int(u), int(a), int(c)) for r, u, a, c in rows
    ]


@dataclass(frozen=True, slots=True)
class Mark:
    """What a sidebar entry shows: bold when something is unread, and a number (0: none) of
    mentions, or of messages in a direct conversation (``direct``)."""

    unread: bool
    count: int
    direct: bool = False


NO_MARK = Mark(False, 0)


def mark_of(room: Room, unread: Unread | None) -> Mark:
    """The sidebar mark of ``room`` for a member in state ``unread``."""
    if unread is None:
        return NO_MARK
    return Mark(
        unread.messages > 0 or unread.mentions > 0, badge_count(room, unread), is_direct(room)
    )
