"""Changes onto this node's sockets, read from the room's change log, and catch-ups.

A node keeps, per room it has sockets in, the newest change it has delivered there. An event
for change N of a room makes it read every change after that one (N and beyond): numbers
follow commit order within a room (models/changes.py), so what it reads is every committed
change it has not delivered, whatever order the broker brought the events in, and none is
skipped. Each socket keeps its own cursor, so a change offered twice (by the catch-up and
live, or by two reads) is written once.

Before a socket's catch-up reads the log, the room's feed is set up (``watch``): its first
read of the newest change happens after the socket joined, so every change up to it is in
the catch-up, and every later one reaches the socket live.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import cast

from quart import Quart

from chat_app import metrics
from chat_app.models import ChangeKind, Message
from chat_app.models.changes import Logged, changes_after, newest_change, newest_changes
from chat_app.models.messages import with_authors
from chat_app.realtime import streams
from chat_app.realtime.connection import Rooms, write_each
from chat_app.realtime.events import RoomChanged
from chat_app.realtime.shared import SharedTasks

READ_PAGE = 500
QUOTE_CLASS = re.compile(r'class="quote-of-(\d+) ')  # an excerpt of message N in an envelope
# The latest changes' envelopes (two texts of ~2 KB each: the author's and everyone else's),
# replayed by the catch-ups of tabs back from a blip, whose cursors are seconds old: about a
# minute at 20 changes a second. After a restart the cache is empty anyway. (4,096 took
# minutes to fill: ~3 MB of the soak scenario's growth.)
RENDERED_KEPT = 1024
# Catch-up pages of different rooms or cursors being read at once; a change delivered makes
# every later read a new one, so only the latest few are ever shared. A page of a cursor a day
# old is 500 envelopes (~2 MB): none is held for long.
PAGES_KEPT = 16
PAGE_KEPT_SECONDS = 10.0


class _Feed:
    """What this node has delivered of one room's log while it has sockets there."""

    __slots__ = ("delivered", "ready", "seen")

    def __init__(self, room_id: int) -> None:
        self.delivered = 0
        # The newest change read to be delivered (delivered, or in a pass over the sockets
        # that a socket joining now is not part of).
        self.seen = 0
        # Shared by every socket that joins meanwhile; it survives a joining handler that
        # is cancelled (its client left), so the feed is never left half set up.
        self.ready = asyncio.ensure_future(self._start(room_id))

    async def _start(self, room_id: int) -> None:
        self.delivered = max(self.delivered, await newest_change(room_id))
        self.seen = max(self.seen, self.delivered)

    def failed(self) -> bool:
        return self.ready.done() and (self.ready.cancelled() or bool(self.ready.exception()))


@dataclass(frozen=True, slots=True)
class _Page:
    """Up to READ_PAGE changes after a cursor, as a tab that missed them all applies them."""

    envelopes: list[streams.Rendered]  # one per message changed: its last change's
    newest: int  # the page's last change: the tab's cursor after it
    cursor: str  # the element that records ``newest``
    full: bool  # READ_PAGE changes: more may follow


class ChangeFanout:
    """Delivers each room's committed changes to its sockets on this node, in order."""

    def __init__(self, app: Quart, rooms: Rooms) -> None:
        self._app = app
        self._rooms = rooms
        self._feeds: dict[int, _Feed] = {}
        self._rendered: dict[tuple[int, ChangeKind], streams.Rendered] = {}
        # After a restart or a blip thousands of tabs of a room come back within seconds
        # with the same cursor, and each catch-up read and rendered the same page: the read
        # alone was 15 % of the server's CPU in a 10,000-client restart storm. Pages are
        # shared by (room, cursor, S), asked for once deliveries here have read up to change
        # S: a page read after that holds every change up to S (they were committed), and
        # each later change reaches every socket that joined by then live, as the pass
        # delivering it starts after its read, and so after that socket joined.
        self._pages = SharedTasks[tuple[int, int, int], _Page | None](PAGES_KEPT, PAGE_KEPT_SECONDS)

    async def watch(self, room_id: int) -> int:
        """Follow ``room_id`` (a socket has joined it); the newest change delivered there.

        Call it after the socket is attached and before its catch-up reads the log.
        """
        return (await self._feed(room_id)).delivered

    async def _feed(self, room_id: int) -> _Feed:
        feed = self._feeds.get(room_id)
        if feed is None or feed.failed():  # a failed start (the database was away) goes again
            feed = self._feeds[room_id] = _Feed(room_id)
        await asyncio.shield(feed.ready)
        return feed

    def forget(self, room_id: int) -> None:
        """Stop following a room without sockets here (it is read afresh when one joins)."""
        self._feeds.pop(room_id, None)

    async def missed(self) -> list[RoomChanged]:
        """Events for the changes committed in rooms with sockets here that no event brought
        (a task run in another process with the in-process broker, an event lost): one
        read of each such room's newest change."""
        watched = [room_id for room_id in self._feeds if self._rooms.sockets_in(room_id)]
        if not watched:
            return []
        newest = await newest_changes(watched)
        return [
            RoomChanged(room_id=room_id, change=change)
            for room_id, change in newest.items()
            if (feed := self._feeds.get(room_id)) is not None and change > feed.delivered
        ]

    async def fan_out(self, events: Sequence[RoomChanged]) -> list[tuple[int, int]]:
        """Deliver what these events announce, room by room, each change once; returns
        (room, author) of the messages posted (sending ends "is typing")."""
        newest: dict[int, int] = {}
        for event in events:
            newest[event.room_id] = max(event.change, newest.get(event.room_id, 0))
        posted: list[tuple[int, int]] = []
        with metrics.FANOUT_SECONDS.time():
            for room_id, change in newest.items():
                if not self._rooms.sockets_in(room_id):
                    continue
                feed = await self._feed(room_id)
                if change > feed.delivered:  # else an earlier read delivered it already
                    posted += await self._deliver(room_id, feed)
        return posted

    async def _deliver(self, room_id: int, feed: _Feed) -> list[tuple[int, int]]:
        posted: list[tuple[int, int]] = []
        while True:
            logged = await changes_after(room_id, feed.delivered, READ_PAGE)
            if not logged:
                return posted
            feed.seen = max(feed.seen, logged[-1].change)
            rendered = await self._render(room_id, logged)
            posted += [
                (room_id, r.author_id)
                for c, r in zip(logged, rendered, strict=True)
                if c.kind is ChangeKind.POSTED and r.author_id is not None
            ]
            authors = {r.author_id for r in rendered if r.author_id is not None}
            await write_each(
                self._rooms.sockets_in(room_id),
                [r.fragment_for(None) for r in rendered],
                {a: [r.fragment_for(a) for r in rendered] for a in authors},
            )
            feed.delivered = max(feed.delivered, logged[-1].change)
            if len(logged) < READ_PAGE:
                return posted

    async def catch_up(
        self, room_id: int, after: int, viewer_id: int, *, joined: bool = False
    ) -> AsyncIterator[tuple[int, str]]:
        """What a tab that applied every change up to ``after`` lacks, as (newest change,
        HTML) a page at a time: the net effect of each message's changes (appended, replaced
        or removed) and the new cursor. ``joined``: the tab's socket is watching the room
        (see ``watch``), so the pages read for the tabs joining with it serve it too.

        After a restart or a blip every tab replays the same changes: the envelopes this node
        rendered lately are served from memory."""
        while True:
            feed = self._feeds.get(room_id) if joined else None
            if feed is None:
                page = await self._read_page(room_id, after)
            else:
                key = (room_id, after, feed.seen)
                page = await self._pages.run(key, functools.partial(self._read_page, *key[:2]))
            if page is None:
                return
            texts = [envelope.fragment_for(viewer_id)[1] for envelope in page.envelopes]
            yield page.newest, "".join(texts) + page.cursor
            if not page.full:
                return
            after = page.newest

    async def _read_page(self, room_id: int, after: int) -> _Page | None:
        """The page of the log after change ``after``, rendered (None: nothing after it)."""
        logged = await changes_after(room_id, after, READ_PAGE)
        if not logged:
            return None
        net = streams.net_effect(logged)
        known = {c.change: r for c in net if (r := self._rendered.get((c.change, c.kind)))}
        fresh = [c for c in net if c.change not in known]
        for r, c in zip(await self._render(room_id, fresh), fresh, strict=True):
            known[c.change] = r
        newest = logged[-1].change
        async with self._app.app_context():
            cursor = await streams.render_cursor(newest)
        envelopes = [known[c.change] for c in net]
        return _Page(envelopes, newest, cursor, full=len(logged) == READ_PAGE)

    async def _render(self, room_id: int, logged: list[Logged]) -> list[streams.Rendered]:
        """Each change's envelope from its message's current state, and keep it."""
        if not logged:
            return []
        messages = {m.id: m for m in await with_authors(sorted({c.message_id for c in logged}))}
        changed = [
            c.message_id for c in logged if c.kind in (ChangeKind.EDITED, ChangeKind.DELETED)
        ]
        quoted: set[int] = set()
        if changed:
            rows = (
                await Message.filter(reply_to_id__in=changed)
                .distinct()
                .values_list("reply_to_id", flat=True)
            )
            quoted = set(cast(list[int], rows))
        async with self._app.app_context():
            rendered = [
                await streams.render_change(
                    room_id, c, messages.get(c.message_id), c.message_id in quoted
                )
                for c in logged
            ]
        self._forget_quotes_of(c.message_id for c in logged if c.message_id in quoted)
        for c, r in zip(logged, rendered, strict=True):
            self._rendered[(c.change, c.kind)] = r
        while len(self._rendered) > RENDERED_KEPT:
            del self._rendered[next(iter(self._rendered))]  # the oldest kept
        return rendered

    def _forget_quotes_of(self, message_ids: Iterable[int]) -> None:
        """Drop kept envelopes that quote these messages (edited or deleted now): a catch-up
        rendering them afresh shows the excerpt as it is, not as it was (a deleted account's
        words must not come back from memory)."""
        changed = set(message_ids)
        if not changed:
            return
        stale = [
            key
            for key, r in self._rendered.items()
            if "quote-of-" in r.for_others
            and not changed.isdisjoint(int(n) for n in QUOTE_CLASS.findall(r.for_others))
        ]
        for key in stale:
            del self._rendered[key]
