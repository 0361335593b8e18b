"""A user's own events on every tab of theirs: the sidebar entries of rooms they are not
looking at (bold when unread, a number for mentions and direct messages), rooms and
conversations coming and going, and desktop notices for what their level lets through.

Rendered once per audience, never per socket: in a room that changed, every member not
looking at it whom nothing singles out sees the same "unread" entry, rendered once; only
members mentioned (or in a direct conversation) get their own numbers, one render per
distinct number — and a conversation's entry, named by the other people, one per member
(at most DIRECT_MAX_MEMBERS). A desktop notice is rendered once per message and goes to each
member whose level allows it. A tab never gets the entry of the room it shows.

Queries per batch of events: none when every user here is looking at the rooms that changed
(a busy room's own traffic); else one for what the changes did and one for the mentions of
the batch, one for the rooms, and per room one for its members here, one for the counts of
those singled out (or whose unread message or mention an edit or deletion may have taken
back), one for the presence of a conversation's people, and one for the messages to notify of.
A batch of presence changes costs one query when none of those people is in a conversation.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import KeysView, Sequence, Set
from dataclasses import dataclass
from typing import Protocol

from quart import Quart

from chat_app.models import Membership, Message, Room
from chat_app.models.notifications import level_allows, notice_of
from chat_app.models.presence import MemberPresence, room_presence
from chat_app.models.rooms import RoomKind
from chat_app.models.unread import (
    Mark,
    MentionMade,
    Posted,
    is_direct,
    mark_of,
    mentions_among,
    touched_among,
    unread_in,
)
from chat_app.realtime import streams
from chat_app.realtime.connection import Connection
from chat_app.realtime.events import MembershipEnded, MembershipStarted, ReadMoved, RoomChanged

log = logging.getLogger(__name__)

MEMBERS_BY_ID_MAX = 1000  # beyond that many users here, read the room's members instead


class Users(Protocol):
    """What the sidebar sees of the registry."""

    def sockets_of_user(self, user_id: int) -> Set[Connection]: ...

    def users_here(self) -> KeysView[int]: ...

    def sockets_in(self, room_id: int) -> Set[Connection]: ...


@dataclass(frozen=True, slots=True)
class Here:
    """A member of a room with a tab here showing another room."""

    last_read: int
    notify: str


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
        """Posts, new mentions, edits and deletions in these rooms, onto the other tabs of
        their members (with a desktop notice of each post their level lets through)."""
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

    async def memberships_started(self, events: Sequence[MembershipStarted]) -> None:
        """A user is in a room or conversation they were not in: it joins their sidebars."""
        try:
            await self._memberships_started(events)
        except Exception:
            log.exception("sidebar update failed")

    async def memberships_ended(self, events: Sequence[MembershipEnded]) -> None:
        """A user left a room or was removed: its entry leaves their other tabs (the tabs
        showing it are closed by the hub)."""
        try:
            for event in events:
                await self._remove(event.room_id, {event.user_id})
        except Exception:
            log.exception("sidebar update failed")

    async def room_archived(self, room_id: int) -> None:
        """An archived room leaves the sidebar of each of its members here."""
        try:
            members = await _members_here(room_id, set(self._users.users_here()))
            await self._remove(room_id, set(members))
        except Exception:
            log.exception("sidebar update failed")

    async def presence_changed(self, user_ids: Sequence[int]) -> None:
        """People came online or went away: the conversations they are in show their dots
        anew on the other members' tabs here (the tabs showing one get the people list)."""
        try:
            await self._presence_changed(user_ids)
        except Exception:
            log.exception("sidebar update failed")

    async def _presence_changed(self, user_ids: Sequence[int]) -> None:
        if not self._users.users_here():
            return
        directs = await Membership.filter(
            user_id__in=sorted(set(user_ids)), room__kind=RoomKind.DIRECT
        ).values_list("room_id", flat=True)
        if not directs:
            return
        rows = await Membership.filter(room_id__in=sorted(set(directs))).values_list(
            "room_id", "user_id"
        )
        by_room: defaultdict[int, set[int]] = defaultdict(set)
        for room_id, user_id in rows:
            if self._users.sockets_of_user(int(user_id)):
                by_room[int(room_id)].add(int(user_id))
        await self._offer_current(by_room, added=False)

    async def _rooms_changed(self, events: Sequence[RoomChanged]) -> None:
        elsewhere = {e.room_id: self._elsewhere(e.room_id) for e in events}
        changes = {e.change for e in events if elsewhere[e.room_id]}
        if not changes:
            return
        touched = await touched_among(changes)
        mentions = await mentions_among(changes)
        room_ids = (
            {p.room_id for p in touched.posted}
            | {m.room_id for m in mentions}
            | set(touched.retracted)
        )
        if not room_ids:
            return  # reactions: nothing new to read
        rooms = {r.id: r for r in await Room.filter(id__in=sorted(room_ids))}
        for room_id, room in rooms.items():
            posted = [p for p in touched.posted if p.room_id == room_id]
            named = [m for m in mentions if m.room_id == room_id]
            retracted = touched.retracted.get(room_id, 0)
            await self._room_changed(room, elsewhere[room_id], posted, named, retracted)

    async def _room_changed(
        self,
        room: Room,
        candidates: set[int],
        posted: Sequence[Posted],
        named: Sequence[MentionMade],
        retracted: int,
    ) -> None:
        here = await _members_here(room.id, candidates)
        if not here:
            return
        newest_by: defaultdict[int, int] = defaultdict(int)  # author -> newest post
        for p in posted:
            newest_by[p.author_id] = max(newest_by[p.author_id], p.change)
        singled_out: set[int] = set()
        plain: set[int] = set()
        for user_id, member in here.items():
            read = member.last_read
            by_others = any(c > read for a, c in newest_by.items() if a != user_id)
            mentioned = any(m.author_id != user_id and m.user_id in (None, user_id) for m in named)
            # An edit or deletion after what they read may have taken back an unread message
            # or a mention: count again.
            if (is_direct(room) and by_others) or mentioned or read < retracted:
                singled_out.add(user_id)
            elif by_others:
                plain.add(user_id)
        marks: dict[int, Mark] = dict.fromkeys(plain, Mark(True, 0))
        if singled_out:
            counts = await unread_in(room.id, singled_out)
            marks.update({u: mark_of(room, counts.get(u)) for u in singled_out})
        if marks:
            await self._offer(room, marks)
        await self._notify(room, here, posted, named)

    async def _notify(
        self,
        room: Room,
        here: dict[int, Here],
        posted: Sequence[Posted],
        named: Sequence[MentionMade],
    ) -> None:
        """A desktop notice of each post, rendered once, to the tabs elsewhere of the members
        whose level lets it through (a tab showing the room notifies from the message itself;
        members with no tab open get Web Push instead: actions/notifications.py)."""
        audiences: dict[int, list[int]] = {}
        for p in posted:
            names = {m.user_id for m in named if m.change == p.change}
            audience = [
                user_id
                for user_id, member in here.items()
                if user_id != p.author_id
                and level_allows(member.notify, user_id in names, None in names)
            ]
            if audience:
                audiences[p.message_id] = audience
        if not audiences:
            return
        messages = await Message.filter(id__in=sorted(audiences)).select_related("author")
        async with self._app.app_context():
            for message in messages:
                message.room = room
                notice = await streams.render_desktop_notice(notice_of(message), message.id)
                for user_id in audiences[message.id]:
                    for connection in list(self._users.sockets_of_user(user_id)):
                        if connection.room_id != room.id:
                            connection.offer(None, notice)

    async def _reads_moved(self, events: Sequence[ReadMoved]) -> None:
        by_room: defaultdict[int, set[int]] = defaultdict(set)
        for e in events:
            if any(c.room_id != e.room_id for c in self._users.sockets_of_user(e.user_id)):
                by_room[e.room_id].add(e.user_id)
        await self._offer_current(by_room, added=False)

    async def _memberships_started(self, events: Sequence[MembershipStarted]) -> None:
        by_room: defaultdict[int, set[int]] = defaultdict(set)
        for e in events:
            if self._users.sockets_of_user(e.user_id):
                by_room[e.room_id].add(e.user_id)
        await self._offer_current(by_room, added=True)

    async def _offer_current(self, by_room: dict[int, set[int]], added: bool) -> None:
        """Each room's entry as it now is for these users (``added``: new to their sidebar)."""
        if not by_room:
            return
        rooms = {r.id: r for r in await Room.filter(id__in=sorted(by_room))}
        for room_id, room in rooms.items():
            counts = await unread_in(room_id, by_room[room_id])
            # Only members: a membership ended meanwhile has no row, and gets no entry.
            marks = {u: mark_of(room, unread) for u, unread in counts.items()}
            await self._offer(room, marks, added=added)

    async def _offer(self, room: Room, marks: dict[int, Mark], added: bool = False) -> None:
        """Render each distinct entry once and offer it to these users' tabs elsewhere: one
        per mark, or in a conversation one per member (the others' names are its name)."""
        people: list[MemberPresence] = []
        if room.is_direct:
            people = await room_presence(room.id)
        rendered: dict[tuple[Mark, int | None], str] = {}
        async with self._app.app_context():
            for user_id, mark in marks.items():
                key = (mark, user_id if room.is_direct else None)
                if key not in rendered:
                    partners = [p for p in people if p.user_id != user_id]
                    rendered[key] = await streams.render_room_link(
                        room, mark, partners, added=added
                    )
        for user_id, mark in marks.items():
            text = rendered[(mark, user_id if room.is_direct else None)]
            for connection in list(self._users.sockets_of_user(user_id)):
                if connection.room_id != room.id:
                    connection.offer(None, text)

    async def _remove(self, room_id: int, user_ids: set[int]) -> None:
        """Take the room's entry off these users' tabs (rendered once)."""
        tabs = [c for u in user_ids for c in self._users.sockets_of_user(u) if c.room_id != room_id]
        if not tabs:
            return
        async with self._app.app_context():
            text = await streams.render_room_unlisted(room_id)
        for connection in tabs:
            connection.offer(None, text)


async def _members_here(room_id: int, candidates: set[int]) -> dict[int, Here]:
    """Which of ``candidates`` are members of the room, with their last read change and
    level: by id when they are few, else the room's members filtered here (one query)."""
    if not candidates:
        return {}
    query = Membership.filter(room_id=room_id)
    if len(candidates) <= MEMBERS_BY_ID_MAX:
        query = query.filter(user_id__in=sorted(candidates))
    rows = await query.values_list("user_id", "last_read_change", "notify")
    return {int(u): Here(int(r), str(n)) for u, r, n in rows if int(u) in candidates}
