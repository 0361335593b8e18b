"""This node's live connections: one bounded queue and one sender task per socket.

Fan-out renders an event once and only enqueues text, so a slow socket never stalls the
others; a socket whose queue is full is closed (its tab reconnects and catches up).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Protocol

from quart import Quart

from chat_app import metrics
from chat_app.actions.presence import prune_presence, refresh_sockets
from chat_app.logs import log_event
from chat_app.models import Membership, User
from chat_app.models.presence import room_presence
from chat_app.models.users import valid_session_tokens
from chat_app.realtime import streams
from chat_app.realtime.events import (
    Event,
    MessagePosted,
    PresenceChanged,
    SessionsRevoked,
    TypingStarted,
    TypingStopped,
)

log = logging.getLogger(__name__)

POLICY_VIOLATION = 1008  # the ws extension does not reconnect after this one
SERVICE_RESTART = 1012  # ... and reconnects after these two
TRY_AGAIN_LATER = 1013
RECENT_WINDOW = 2048


class Socket(Protocol):
    async def send(self, data: str) -> None: ...


class Connection:
    """One open websocket of ``user_id`` in ``room_id``."""

    def __init__(
        self,
        socket: Socket,
        user_id: int,
        room_id: int,
        queue_size: int,
        session_token: str | None = None,
    ) -> None:
        self.socket = socket
        self.user_id = user_id
        self.room_id = room_id
        self.session_token = session_token
        self.socket_id = uuid.uuid4().hex
        self.last_heard = time.monotonic()  # any frame counts as a heartbeat
        self.queue: asyncio.Queue[tuple[int | None, str]] = asyncio.Queue(maxsize=queue_size)
        # Ids of the messages sent lately (catch-up, live, replies): a copy arriving by another
        # path is skipped, so no message is shown twice. Duplicates only race near in time,
        # so a window suffices and memory stays bounded.
        self._recent: deque[int] = deque(maxlen=RECENT_WINDOW)
        self._recent_ids: set[int] = set()
        self.close_code: int | None = None
        self.close_reason = ""
        self.pacing = Pacing(0, 0.0)  # the hub's, once attached
        self._sender: asyncio.Task[None] | None = None

    def first_time(self, message_id: int) -> bool:
        """Record that ``message_id`` goes out; False if it already went out."""
        if message_id in self._recent_ids:
            return False
        if len(self._recent) == RECENT_WINDOW:
            self._recent_ids.discard(self._recent[0])
        self._recent.append(message_id)
        self._recent_ids.add(message_id)
        return True

    def offer(self, message_id: int | None, text: str) -> None:
        """Queue ``text`` without waiting; close the socket when it cannot keep up."""
        if self.close_code is not None:
            return
        try:
            self.queue.put_nowait((message_id, text))
        except asyncio.QueueFull:
            metrics.QUEUE_DROPS.inc()
            log_event(log, "ws.queue_full", logging.WARNING, user=self.user_id, room=self.room_id)
            self.close(TRY_AGAIN_LATER, "too slow, reconnect")

    def close(self, code: int, reason: str = "") -> None:
        """Ask the handler to close the socket with ``code``; it notices the sender stop."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        if self._sender is not None:
            self._sender.cancel()

    def start_sender(self) -> asyncio.Task[None]:
        """Start writing queued fragments; the task ends when the socket should close."""
        self._sender = asyncio.create_task(self._send_forever())
        return self._sender

    async def _send_forever(self) -> None:
        loop = asyncio.get_running_loop()
        last_sent = -float("inf")
        while self.close_code is None:  # close() may come before the sender starts
            batch = [await self.queue.get()]
            # Python's cost is per frame (a syscall, the ASGI and wsproto layers), not per byte:
            # under load, wait out the interval so the fragments of several events share it.
            # A socket that was quiet for an interval sends at once, so light load pays nothing.
            wait = last_sent + self.pacing.interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            # One frame for everything queued: the ws extension swaps each top-level element.
            text = "".join(t for mid, t in batch if mid is None or self.first_time(mid))
            if text:
                with metrics.DELIVERY_SECONDS.time():
                    await self.socket.send(text)
                last_sent = loop.time()


class Pacing:
    """How often one socket may get a frame: this node's frame budget shared by its sockets.

    With N sockets and a budget of F frames/s, each socket gets at most one frame per N/F
    seconds (capped), whatever the message rate: the CPU spent on frames stays bounded, and
    the wait it adds is of the order of one fan-out to all N sockets anyway. Quiet sockets are
    not delayed.
    """

    def __init__(self, frames_per_second: int, max_interval: float) -> None:
        self.frames_per_second = frames_per_second
        self.max_interval = max_interval
        self.interval = 0.0

    def resize(self, sockets: int) -> None:
        """Recompute the interval for ``sockets`` open sockets."""
        if self.frames_per_second > 0:
            self.interval = min(self.max_interval, sockets / self.frames_per_second)


class Hub:
    """Connections by room, and the fan-out of events to them."""

    def __init__(self, app: Quart) -> None:
        self._app = app
        self._pacing = Pacing(
            app.config.get("WS_NODE_FRAMES_PER_SECOND", 0),
            app.config.get("WS_FRAME_INTERVAL_MAX_MS", 0) / 1000,
        )
        self._open = 0
        self.node_id = uuid.uuid4().hex[:16]
        self._rooms: defaultdict[int, set[Connection]] = defaultdict(set)
        # Sockets per user, kept as they come and go: the handshake checks the per-user limit,
        # and counting by a scan of every connection made 10,000 handshakes quadratic.
        self._per_user: Counter[int] = Counter()
        # Who is typing where, until when (monotonic). Every node derives it from the events.
        self._typing: defaultdict[int, dict[int, float]] = defaultdict(dict)
        self._timers: set[asyncio.Task[None]] = set()
        # Presence renders are throttled (see _presence_changed): users changed since the last.
        self._presence_pending: set[int] = set()
        self._presence_rendered = -float("inf")
        self._presence_timer: asyncio.Task[None] | None = None
        self.closing = False
        self.drained = asyncio.Event()  # set while no socket is open (shutdown waits on it)
        self.drained.set()

    def attach(self, connection: Connection) -> None:
        """Subscribe a connection to its room's events (before any catch-up query)."""
        connection.pacing = self._pacing
        self._rooms[connection.room_id].add(connection)
        self._per_user[connection.user_id] += 1
        self._open += 1
        self._pacing.resize(self._open)
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
            self._per_user[connection.user_id] -= 1
            if not self._per_user[connection.user_id]:
                del self._per_user[connection.user_id]
            self._open -= 1
            self._pacing.resize(self._open)
        if not self._rooms:
            self.drained.set()
        metrics.OPEN_CONNECTIONS.dec()

    def sockets_of(self, user_id: int) -> int:
        """How many sockets ``user_id`` has open on this node."""
        return self._per_user[user_id]

    def connections(self) -> list[Connection]:
        """Every open connection on this node."""
        return [c for room in self._rooms.values() for c in room]

    async def deliver(self, event: Event) -> None:
        """Apply ``event`` to this node's sockets."""
        match event:
            case MessagePosted():
                await self._fan_out(event)
            case SessionsRevoked(user_id=user_id, session_token=token):
                for connection in self.connections():
                    if connection.user_id == user_id and token in (None, connection.session_token):
                        connection.close(POLICY_VIOLATION, "signed out")
            case PresenceChanged(user_id=user_id):
                self._presence_pending.add(user_id)
                await self._presence_changed()
            case TypingStarted(room_id=room_id, user_id=user_id):
                ttl: float = self._app.config["TYPING_TTL_SECONDS"]
                self._typing[room_id][user_id] = time.monotonic() + ttl
                self._after(ttl, self._typing_changed, room_id)
                await self._typing_changed(room_id)
            case TypingStopped(room_id=room_id, user_id=user_id):
                if self._typing[room_id].pop(user_id, None) is not None:
                    await self._typing_changed(room_id)

    def is_typing(self, room_id: int, user_id: int) -> bool:
        """Whether ``user_id`` shows as typing in ``room_id``."""
        return self._typing[room_id].get(user_id, 0.0) > time.monotonic()

    async def _fan_out(self, event: MessagePosted) -> None:
        """Render once and enqueue the same text on every socket of the room on this node."""
        if not self._rooms.get(event.room_id):
            return
        with metrics.FANOUT_SECONDS.time():
            async with self._app.app_context():
                fanout = await streams.render_event(event)
            if fanout is None:
                return
            for connection in list(self._rooms.get(fanout.room_id, ())):
                own = connection.user_id == fanout.author_id
                connection.offer(fanout.message_id, fanout.for_author if own else fanout.for_others)
        if fanout.author_id is not None and self._typing[event.room_id].pop(fanout.author_id, 0):
            await self._typing_changed(event.room_id)  # sending ends "is typing"

    async def _presence_changed(self) -> None:
        """Re-render the people list, once per room of the changed users with sockets on this
        node (the whole list, so newcomers appear and the order stays right).

        At most once per PRESENCE_RENDER_SECONDS: the first change renders at once, the ones
        that follow within the window share one render at its end. When hundreds of users come
        online together (a restart, a morning), one render per change held the broker's queue
        for seconds and sent every socket hundreds of lists (measured: 3,000 sockets got no
        message for 15 s)."""
        if self._presence_timer is not None:
            return  # a render is already scheduled; it will include these users
        wait = self._presence_rendered + self._app.config["PRESENCE_RENDER_SECONDS"]
        wait -= time.monotonic()
        if wait > 0:
            self._presence_timer = asyncio.create_task(self._render_presence_later(wait))
            return
        users, self._presence_pending = self._presence_pending, set()
        self._presence_rendered = time.monotonic()
        query = Membership.filter(user_id__in=users).distinct()
        rooms: list[int] = await query.values_list("room_id", flat=True)  # type: ignore[assignment]
        full_list_max: int = self._app.config["PRESENCE_FULL_LIST_MAX"]
        async with self._app.app_context():
            for room_id in rooms:
                if self._rooms.get(room_id):
                    people = await room_presence(room_id)
                    if len(people) <= full_list_max:
                        text = await streams.render_people(people)
                    else:
                        # ~800 bytes an entry: a 1,000-member list to every socket each second
                        # is gigabytes. Changed entries only; someone who joined the room
                        # after a tab loaded shows up there on its next load.
                        changed = [p for p in people if p.user_id in users]
                        text = await streams.render_members(changed)
                    self._broadcast([room_id], text)

    async def _render_presence_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._presence_timer = None
        try:
            await self._presence_changed()
        except Exception:
            log.exception("rendering presence failed")

    async def _typing_changed(self, room_id: int) -> None:
        """Re-render the room's typing line: one text per distinct audience, never per socket.

        Typists don't see themselves, so each typist on this node gets its own variant;
        everyone else shares one.
        """
        now = time.monotonic()
        typing = {u: t for u, t in self._typing[room_id].items() if t > now}
        self._typing[room_id] = typing
        connections = self._rooms.get(room_id)
        if not connections:
            return
        names = dict(await User.filter(id__in=list(typing)).values_list("id", "username"))
        texts: dict[tuple[str, ...], str] = {}
        async with self._app.app_context():
            for connection in list(connections):
                others = tuple(
                    sorted(str(names[u]) for u in typing if u != connection.user_id and u in names)
                )
                if others not in texts:
                    texts[others] = await streams.render_typing(others)
                connection.offer(None, texts[others])

    def _broadcast(self, room_ids: Iterable[int], text: str) -> None:
        for room_id in room_ids:
            for connection in list(self._rooms.get(room_id, ())):
                connection.offer(None, text)

    def _after(self, delay: float, work: Callable[[int], Awaitable[None]], arg: int) -> None:
        """Run ``work(arg)`` after ``delay`` seconds (typing expiry needs no new event)."""

        async def later() -> None:
            await asyncio.sleep(delay + 0.01)
            await work(arg)

        task = asyncio.create_task(later())
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def housekeep(self) -> None:
        """One round of liveness work: close silent sockets and those of ended sessions,
        refresh this node's socket rows, and sweep rows that a dead node left behind."""
        config = self._app.config
        silent_after: float = config["SOCKET_IDLE_SECONDS"]
        now = time.monotonic()
        for connection in self.connections():
            if now - connection.last_heard > silent_after:
                connection.close(TRY_AGAIN_LATER, "no heartbeat")
        async with self._app.app_context():
            await refresh_sockets([c.socket_id for c in self.connections()])
            await prune_presence(timedelta(seconds=config["PRESENCE_STALE_SECONDS"]))
        # Sessions ended where no event reaches us (a CLI process with memory://) close here.
        tokens = {c.session_token for c in self.connections() if c.session_token}
        valid = await valid_session_tokens(tokens)
        for connection in self.connections():
            if connection.session_token in tokens - valid:
                connection.close(POLICY_VIOLATION, "signed out")

    async def housekeep_forever(self) -> None:
        """``housekeep`` every PRESENCE_REFRESH_SECONDS until cancelled."""
        while True:
            await asyncio.sleep(self._app.config["PRESENCE_REFRESH_SECONDS"])
            try:
                await self.housekeep()
            except Exception:
                log.exception("housekeeping failed")

    def open_sockets(self) -> int:
        """How many sockets are open on this node."""
        return sum(len(room) for room in self._rooms.values())

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
        for timer in list(self._timers):
            timer.cancel()
        if self._presence_timer is not None:
            self._presence_timer.cancel()
