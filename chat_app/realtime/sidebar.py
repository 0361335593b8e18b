"""A user's own events on every tab of theirs: the sidebar entries of rooms they are not
looking at (bold when unread, a number for mentions and direct messages).

Rendered once per audience, never per socket: in a room that changed, every member not
looking at it whom nothing singles out sees the same "unread" entry, rendered once; only
members mentioned (or in a direct conversation) get their own numbers, one render per
distinct number. A tab never gets the entry of the room it shows (that room is being read).

Queries per batch of events: none when every user here is looking at the rooms that changed
(a busy room's own traffic); else one for the posts and one for the mentions of the batch,
one for the rooms, and per room one for its members here and one for the counts of those
singled out.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import KeysView, Sequence, Set
from typing import Protocol

from quart import Quart

from chat_app.models import Membership, Room
from chat_app.models.unread import (
    Mark,
    MentionMade,
    is_direct,
    mark_of,
    mentions_among,
    posted_among,
    unread_in,
)
from chat_app.realtime import streams
from chat_app.realtime.connection import Connection
from chat_app.realtime.events import ReadMoved, RoomChanged

log = logging.getLogger(__name__)

MEMBERS_BY_ID_MAX = 1000  # beyond that many users here, read the room's members instead


class Users(Protocol):
    """What the sidebar sees of the registry."""

    def sockets_of_user(self, user_id: int) -> Set[Connection]: ...

    def users_here(self) -> KeysView[int]: ...

    def sockets_in(self, room_id: int) -> Set[Connection]: ...


class Sidebar:
    """Offers changed sidebar entries to the tabs of the users concerned on this node."""

    def __init__(self, app: Quart, users: Users) -> None:
        self._app = app
        self._users = users

    def _elsewhere(self, room_id: int) -> set[int]:
        """The users here with a tab showing another room than ``room_id``."""
        inside: defaultdict[int, int] = defaultdict(int)
        for connection in self._users.sockets_in(room_id):
            inside[connection.user_id] += 1
        return {
            u
            for u in self._users.users_here()
            if len(self._users.sockets_of_user(u)) > inside.get(u, 0)
        }

    async def rooms_changed(self, events: Sequence[RoomChanged]) -> None:
        """Posts and new mentions in these rooms, onto the other tabs of their members."""
        try:
            await self._rooms_changed(events)
        except Exception:  # best effort: the next page load shows the marks anyway
            log.exception("sidebar update failed")

    async def reads_moved(self, events: Sequence[ReadMoved]) -> None:
        """A user read a room further: their other tabs show its entry as it now is."""
        try:
            await self._reads_moved(events)
        except Exception:
            log.exception("sidebar update failed")

    async def _rooms_changed(self, events: Sequence[RoomChanged]) -> None:
        elsewhere = {e.room_id: self._elsewhere(e.room_id) for e in events}
        changes = {e.change for e in events if elsewhere[e.room_id]}
        if not changes:
            return
        posted = await posted_among(changes)
        mentions = await mentions_among(changes)
        room_ids = {p.room_id for p in posted} | {m.room_id for m in mentions}
        if not room_ids:
            return  # edits and reactions: nothing new to read
        rooms = {r.id: r for r in await Room.filter(id__in=sorted(room_ids))}
        for room_id, room in rooms.items():
            newest_by: defaultdict[int, int] = defaultdict(int)  # author -> newest post
            for p in posted:
                if p.room_id == room_id:
                    newest_by[p.author_id] = max(newest_by[p.author_id], p.change)
            named = [m for m in mentions if m.room_id == room_id]
            await self._room_changed(room, elsewhere[room_id], dict(newest_by), named)

    async def _room_changed(
        self,
        room: Room,
        candidates: set[int],
        newest_by: dict[int, int],
        named: Sequence[MentionMade],
    ) -> None:
        last_read = await _members_here(room.id, candidates)
        if not last_read:
            return
        singled_out: set[int] = set()
        plain: set[int] = set()
        for user_id, read in last_read.items():
            by_others = any(c > read for a, c in newest_by.items() if a != user_id)
            mentioned = any(m.author_id != user_id and m.user_id in (None, user_id) for m in named)
            if (is_direct(room) and by_others) or mentioned:
                singled_out.add(user_id)
            elif by_others:
                plain.add(user_id)
        marks: dict[int, Mark] = dict.fromkeys(plain, Mark(True, 0))
        if singled_out:
            counts = await unread_in(room.id, singled_out)
            marks.update({u: mark_of(room, counts.get(u)) for u in singled_out})
        await self._offer(room, marks)

    async def _reads_moved(self, events: Sequence[ReadMoved]) -> None:
        by_room: defaultdict[int, set[int]] = defaultdict(set)
        for e in events:
            if any(c.room_id != e.room_id for c in self._users.sockets_of_user(e.user_id)):
                by_room[e.room_id].add(e.user_id)
        if not by_room:
            return
        rooms = {r.id: r for r in await Room.filter(id__in=sorted(by_room))}
        for room_id, room in rooms.items():
            counts = await unread_in(room_id, by_room[room_id])
            await self._offer(room, {u: mark_of(room, counts.get(u)) for u in by_room[room_id]})

    async def _offer(self, room: Room, marks: dict[int, Mark]) -> None:
        """Render each distinct mark once and offer it to these users' tabs elsewhere."""
        rendered: dict[Mark, str] = {}
        async with self._app.app_context():
            for mark in set(marks.values()):
                rendered[mark] = await streams.render_room_link(room, mark)
        for user_id, mark in marks.items():
            for connection in list(self._users.sockets_of_user(user_id)):
                if connection.room_id != room.id:
                    connection.offer(None, rendered[mark])


async def _members_here(room_id: int, candidates: set[int]) -> dict[int, int]:
    """Which of ``candidates`` are members of the room, with their last read change: by id
    when they are few, else the room's members filtered here (one query either way)."""
    if not candidates:
        return {}
    query = Membership.filter(room_id=room_id)
    if len(candidates) <= MEMBERS_BY_ID_MAX:
        query = query.filter(user_id__in=sorted(candidates))
    rows = await query.values_list("user_id", "last_read_change")
    return {int(u): int(r) for u, r in rows if int(u) in candidates}
