"""This node's live connections by room, and the routing of events to the parts that write.

Messages go to the fan-out, presence changes to the people list, typing to the typists;
the hub itself closes sockets: signed out, silent, or all of them (a broker gap, shutdown).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, KeysView, Sequence, Set
from datetime import datetime

from quart import Quart

from chat_app import metrics
from chat_app.models.users import valid_session_tokens
from chat_app.realtime.connection import (
    POLICY_VIOLATION,
    SERVICE_RESTART,
    TRY_AGAIN_LATER,
    Connection,
)
from chat_app.realtime.events import (
    Event,
    MembershipEnded,
    MembershipStarted,
    PresenceChanged,
    ReadMoved,
    RoomArchived,
    RoomChanged,
    SessionsRevoked,
    TypingStarted,
    TypingStopped,
)
from chat_app.realtime.fanout import ChangeFanout
from chat_app.realtime.presence import PeopleList
from chat_app.realtime.sidebar import Sidebar
from chat_app.realtime.streams import render_notice
from chat_app.realtime.typists import Typists

log = logging.getLogger(__name__)

REMOVED_REASON = "You were removed from this room."
LEFT_REASON = "You left this room."
ARCHIVED_NOTICE = "This room was archived: it can be read, not written to."

_NO_SOCKETS: frozenset[Connection] = frozenset()


class Hub:
    """Connections by room, and the delivery of events to them."""

    def __init__(self, app: Quart) -> None:
        self._app = app
        self.node_id = uuid.uuid4().hex[:16]
        self._rooms: defaultdict[int, set[Connection]] = defaultdict(set)
        # Sockets per user, kept as they come and go: the handshake checks the per-user limit
        # (counting by a scan of every connection made 10,000 handshakes quadratic), and a
        # user's own events (unread marks) reach every tab of theirs, whatever room it shows.
        self._by_user: defaultdict[int, set[Connection]] = defaultdict(set)
        self._changes = ChangeFanout(app, self)
        self._sidebar = Sidebar(app, self)
        self._people = PeopleList(app, self)
        self._typists = Typists(app, self)
        self.closing = False
        self.drained = asyncio.Event()  # set while no socket is open (shutdown waits on it)
        self.drained.set()

    def attach(self, connection: Connection) -> None:
        """Subscribe a connection to its room's events (before any catch-up query)."""
        self._rooms[connection.room_id].add(connection)
        self._by_user[connection.user_id].add(connection)
        self.drained.clear()
        metrics.OPEN_CONNECTIONS.inc()
        if self.closing:  # opened while shutting down: it must not hold the shutdown up
            connection.close(SERVICE_RESTART, "server restarting")

    def detach(self, connection: Connection) -> None:
        """Forget a connection that has ended."""
        room = self._rooms.get(connection.room_id)
        if room is not None and connection in room:
            room.discard(connection)
            if not room:
                del self._rooms[connection.room_id]
                self._changes.forget(connection.room_id)
            mine = self._by_user.get(connection.user_id)
            if mine is not None:
                mine.discard(connection)
                if not mine:
                    del self._by_user[connection.user_id]
        if not self._rooms:
            self.drained.set()
        metrics.OPEN_CONNECTIONS.dec()

    def sockets_of(self, user_id: int) -> int:
        """How many sockets ``user_id`` has open on this node."""
        return len(self._by_user.get(user_id, _NO_SOCKETS))

    def sockets_of_user(self, user_id: int) -> Set[Connection]:
        """The open connections of ``user_id`` on this node, whatever rooms they show (live:
        copy before awaiting)."""
        return self._by_user.get(user_id, _NO_SOCKETS)

    def users_here(self) -> KeysView[int]:
        """The users with a socket open on this node."""
        return self._by_user.keys()

    def sockets_in(self, room_id: int) -> Set[Connection]:
        """The open connections of ``room_id`` on this node (live: copy before awaiting)."""
        return self._rooms.get(room_id, _NO_SOCKETS)

    def connections(self) -> list[Connection]:
        """Every open connection on this node."""
        return [c for room in self._rooms.values() for c in room]

    def open_sockets(self) -> int:
        """How many sockets are open on this node."""
        return sum(len(room) for room in self._rooms.values())

    async def deliver(self, events: Sequence[Event]) -> None:
        """Apply ``events`` to this node's sockets.

        They are all the events that arrived while the previous ones were delivered: under
        load, batches grow, and the messages of a batch cost one query and one frame per
        socket, so the cost per message falls as the rate rises (Python's cost is per frame).
        """
        changed_rooms = [event for event in events if isinstance(event, RoomChanged)]
        if changed_rooms:
            for room_id, author_id in await self._changes.fan_out(changed_rooms):
                await self._typists.stopped(room_id, author_id)  # sending ends "is typing"
            await self._sidebar.rooms_changed(changed_rooms)
        reads = [event for event in events if isinstance(event, ReadMoved)]
        if reads:
            await self._sidebar.reads_moved(reads)
        started = [event for event in events if isinstance(event, MembershipStarted)]
        if started:
            await self._sidebar.memberships_started(started)
        ended = [event for event in events if isinstance(event, MembershipEnded)]
        if ended:
            await self._sidebar.memberships_ended(ended)
        changed = [event.user_id for event in events if isinstance(event, PresenceChanged)]
        if changed:
            await self._people.changed(changed)
            await self._sidebar.presence_changed(changed)
        for event in events:
            await self._apply(event)

    async def _apply(self, event: Event) -> None:
        match event:
            case SessionsRevoked(user_id=user_id, session_token=token):
                self._sign_out(
                    c
                    for c in self.connections()
                    if c.user_id == user_id and token in (None, c.session_token)
                )
            case MembershipEnded(room_id=room_id, user_id=user_id, removed=removed):
                await self._membership_ended(room_id, user_id, removed)
            case RoomArchived(room_id=room_id):
                await self._room_archived(room_id)
            case TypingStarted(room_id=room_id, user_id=user_id):
                await self._typists.started(room_id, user_id)
            case TypingStopped(room_id=room_id, user_id=user_id):
                await self._typists.stopped(room_id, user_id)

    async def _membership_ended(self, room_id: int, user_id: int, removed: bool) -> None:
        """Close ``user_id``'s sockets to ``room_id`` (their other rooms stay) with 1008, which
        the ws extension does not reconnect after; the tab is told why first."""
        leaving = [c for c in self.sockets_in(room_id) if c.user_id == user_id]
        if not leaving:
            return
        reason = REMOVED_REASON if removed else LEFT_REASON
        async with self._app.app_context():  # events arrive outside any request
            notice = await render_notice(reason + " Your other rooms are in the sidebar.")
        for connection in leaving:
            connection.offer(None, notice)
            connection.close(POLICY_VIOLATION, reason)
        if self.is_typing(room_id, user_id):
            await self._typists.stopped(room_id, user_id)

    async def _room_archived(self, room_id: int) -> None:
        """Tabs showing the room say so (they stay: it is still readable); it leaves the
        sidebar of its members' other tabs."""
        inside = list(self.sockets_in(room_id))
        if inside:
            async with self._app.app_context():
                notice = await render_notice(ARCHIVED_NOTICE)
            for connection in inside:
                connection.offer(None, notice)
        await self._sidebar.room_archived(room_id)

    def is_typing(self, room_id: int, user_id: int) -> bool:
        """Whether ``user_id`` shows as typing in ``room_id``."""
        return self._typists.is_typing(room_id, user_id)

    async def watch(self, room_id: int) -> int:
        """Follow a room an attached connection is in; the newest change delivered there
        (see ChangeFanout.watch)."""
        return await self._changes.watch(room_id)

    def catch_up(
        self, room_id: int, after: int, viewer_id: int, *, joined: bool = False
    ) -> AsyncIterator[tuple[int, str]]:
        """What a tab lacks after change ``after`` (see ChangeFanout.catch_up)."""
        return self._changes.catch_up(room_id, after, viewer_id, joined=joined)

    async def presence_for_returning_tab(self, room_id: int, since: datetime | None) -> str:
        """The people-list update for a tab back having seen it ``since`` (see PeopleList)."""
        return await self._people.for_returning_tab(room_id, since)

    def close_silent(self, silent_after: float) -> None:
        """Close the sockets that sent no frame (not even a heartbeat) for ``silent_after`` s."""
        now = time.monotonic()
        for connection in self.connections():
            if now - connection.last_heard > silent_after:
                connection.close(TRY_AGAIN_LATER, "no heartbeat")

    async def close_signed_out(self) -> None:
        """Close the sockets whose session ended where no event reaches us (a CLI process
        with memory://): a read of the sessions, no write."""
        tokens = {c.session_token for c in self.connections() if c.session_token}
        ended = tokens - await valid_session_tokens(tokens)
        self._sign_out(c for c in self.connections() if c.session_token in ended)

    async def deliver_missed(self) -> None:
        """Deliver the changes no event told this node of (see ChangeFanout.missed): a task
        in another process with ``memory://`` (retention, account deletion) reaches open
        tabs within a housekeeping round."""
        missed = await self._changes.missed()
        if missed:
            await self.deliver(missed)

    def _sign_out(self, connections: Iterable[Connection]) -> None:
        for connection in connections:
            connection.close(POLICY_VIOLATION, "signed out")

    def resync(self) -> None:
        """The broker may have dropped events: every socket reconnects and catches up.

        1013 makes the ws extension reconnect with the newest id it shows; the server then
        subscribes before replaying, so nothing published during the gap is lost or doubled.
        """
        log.warning("broker gap: closing %d sockets so they catch up", self.open_sockets())
        for connection in self.connections():  # typing timers stay: the state is still right
            connection.close(TRY_AGAIN_LATER, "reconnect to catch up")

    def close_all(self, code: int = SERVICE_RESTART, reason: str = "server restarting") -> None:
        """Close every socket (shutdown: 1012 makes clients reconnect at once)."""
        self.closing = True
        for connection in self.connections():
            connection.close(code, reason)
        self._typists.cancel_timers()
        self._people.cancel_timer()
