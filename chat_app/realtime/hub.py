"""This node's live connections, and the fan-out of events to them.

Events come in batches; each message is rendered once, and each socket gets the batch as one
frame, written in one pass over the room's sockets. A socket that pushes back keeps a bounded
backlog that joins its next frame, so it never stalls the others; one whose backlog is full is
closed (its tab reconnects and catches up).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Protocol

from quart import Quart

from chat_app import metrics
from chat_app.actions.presence import prune_presence, refresh_sockets
from chat_app.logs import log_event
from chat_app.models import Membership, User
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
WRITE_SLICE = 64
RETURNING_BUCKET_SECONDS = 5
RETURNING_RENDERS_KEPT = 64
RENDERED_KEPT = 2048  # ~1.5 KB each


class Socket(Protocol):
    def write_now(self, data: str) -> bool:
        """Write ``data`` as one frame at once if the connection takes it without waiting;
        False (nothing written) otherwise. Never raises."""
        ...

    async def send(self, data: str) -> None: ...


Fragment = tuple[int | None, str]  # (message id or None, HTML)


class Connection:
    """One open websocket of ``user_id`` in ``room_id``.

    Fragments offered while a write is in flight wait (at most ``queue_size`` of them) and go
    out together as the next frame: a socket that falls behind gets fewer, bigger frames, and
    one that stops reading is closed instead of holding memory.
    """

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
        self._queue_size = queue_size
        self._waiting: list[Fragment] = []
        # Ids of the messages sent lately (catch-up, live, replies): a copy arriving by another
        # path is skipped, so no message is shown twice. Duplicates only race near in time,
        # so a window suffices and memory stays bounded.
        self._recent: deque[int] = deque(maxlen=RECENT_WINDOW)
        self._recent_ids: set[int] = set()
        self._live = False  # until go_live(): the catch-up is written first
        self._writer: asyncio.Task[None] | None = None
        self._writing = False
        self.ended = asyncio.Event()  # the socket should close, or a write failed
        self.error: Exception | None = None
        self.close_code: int | None = None
        self.close_reason = ""

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
        """Send ``text`` now, or with the next frame if a write is in flight."""
        self.offer_all([(message_id, text)])

    def offer_all(self, fragments: list[Fragment]) -> None:
        """Send ``fragments`` as one frame; close the socket when it cannot keep up."""
        if self.ended.is_set():
            return
        if len(self._waiting) + len(fragments) > self._queue_size:
            metrics.QUEUE_DROPS.inc()
            log_event(log, "ws.queue_full", logging.WARNING, user=self.user_id, room=self.room_id)
            self.close(TRY_AGAIN_LATER, "too slow, reconnect")
            return
        self._waiting.extend(fragments)
        self._write_if_idle()

    def go_live(self) -> None:
        """Write what was offered during the catch-up, and from now on as it comes."""
        self._live = True
        self._write_if_idle()

    def close(self, code: int, reason: str = "") -> None:
        """Ask the handler to close the socket with ``code``."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        self.end()

    def end(self) -> None:
        """Stop writing: the socket is closing or gone."""
        self.ended.set()
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()  # a client that stopped reading must not hold its task

    def _write_if_idle(self) -> None:
        if not self._live or self._writing or not self._waiting:
            return
        text = self._take_waiting()
        # Nearly always the connection takes the frame at once: a fan-out then writes to every
        # socket in one pass, with no task and no await per socket. Only a socket that pushes
        # back gets a task, and what is offered meanwhile joins its next frame.
        if not text or self.socket.write_now(text):
            return
        self._writing = True
        loop = asyncio.get_running_loop()
        self._writer = asyncio.Task(self._write(text), loop=loop, eager_start=True)

    def _take_waiting(self) -> str:
        batch, self._waiting = self._waiting, []
        if len(batch) == 1:  # the usual case, once per socket per fan-out: kept short
            message_id, text = batch[0]
            return text if message_id is None or self.first_time(message_id) else ""
        # One frame for everything waiting: the ws extension swaps each top-level element.
        return "".join(t for mid, t in batch if mid is None or self.first_time(mid))

    async def _write(self, text: str) -> None:
        """Write ``text``, then what was offered meanwhile, as fast as the client reads."""
        try:
            while text and not self.ended.is_set():
                await self.socket.send(text)
                text = self._take_waiting()
        except Exception as error:  # the client went away mid-write (or worse: logged)
            self.error = error
            self.ended.set()
        finally:
            self._writing = False


class Hub:
    """Connections by room, and the fan-out of events to them."""

    def __init__(self, app: Quart) -> None:
        self._app = app
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
        # People-list updates for returning tabs, by (room, since, presence version): tabs
        # that come back together (a restart, a network blip) share one render.
        self._presence_version = 0
        # The latest messages' renders, oldest first: catch-ups replay them from here.
        self._rendered: dict[int, streams.Fanout] = {}
        self._returning: dict[tuple[int, int, int], str] = {}
        self.closing = False
        self.drained = asyncio.Event()  # set while no socket is open (shutdown waits on it)
        self.drained.set()

    def attach(self, connection: Connection) -> None:
        """Subscribe a connection to its room's events (before any catch-up query)."""
        self._rooms[connection.room_id].add(connection)
        self._per_user[connection.user_id] += 1
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
        if not self._rooms:
            self.drained.set()
        metrics.OPEN_CONNECTIONS.dec()

    def sockets_of(self, user_id: int) -> int:
        """How many sockets ``user_id`` has open on this node."""
        return self._per_user[user_id]

    def connections(self) -> list[Connection]:
        """Every open connection on this node."""
        return [c for room in self._rooms.values() for c in room]

    async def deliver(self, events: Sequence[Event]) -> None:
        """Apply ``events`` to this node's sockets.

        They are all the events that arrived while the previous ones were delivered: under
        load, batches grow, and the messages of a batch cost one query and one frame per
        socket, so the cost per message falls as the rate rises (Python's cost is per frame).
        """
        posted = [event for event in events if isinstance(event, MessagePosted)]
        if posted:
            await self._fan_out(posted)
        changed = [event.user_id for event in events if isinstance(event, PresenceChanged)]
        if changed:
            self._presence_version += 1
            self._presence_pending.update(changed)
            await self._presence_changed()
        for event in events:
            await self._apply(event)

    async def _apply(self, event: Event) -> None:
        match event:
            case SessionsRevoked(user_id=user_id, session_token=token):
                for connection in self.connections():
                    if connection.user_id == user_id and token in (None, connection.session_token):
                        connection.close(POLICY_VIOLATION, "signed out")
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

    async def _fan_out(self, posted: list[MessagePosted]) -> None:
        """Render each message once (plus its author's variant) and write the room's new
        messages to each of its sockets on this node as one frame."""
        wanted = [event.message_id for event in posted if self._rooms.get(event.room_id)]
        if not wanted:
            return
        with metrics.FANOUT_SECONDS.time():
            fanouts = await self._render(wanted)
            by_room: defaultdict[int, list[streams.Fanout]] = defaultdict(list)
            for fanout in fanouts:
                by_room[fanout.room_id].append(fanout)
            for room_id, batch in by_room.items():
                await self._write_to(
                    room_id,
                    [fanout.fragment_for(None) for fanout in batch],
                    {a: [f.fragment_for(a) for f in batch] for a in {f.author_id for f in batch}},
                )
        for fanout in fanouts:  # sending ends "is typing"
            if self._typing[fanout.room_id].pop(fanout.author_id, 0):
                await self._typing_changed(fanout.room_id)

    async def _render(self, message_ids: list[int]) -> list[streams.Fanout]:
        """Render these messages (see streams.render_posted) and keep them for catch-ups."""
        async with self._app.app_context():
            fanouts = await streams.render_posted(message_ids)
        for fanout in fanouts:
            self._rendered[fanout.message_id] = fanout
        while len(self._rendered) > RENDERED_KEPT:
            del self._rendered[next(iter(self._rendered))]  # the oldest kept
        return fanouts

    async def catch_up_renders(self, stamps: list[tuple[int, datetime]]) -> list[streams.Fanout]:
        """Renders of the messages ``stamps`` names (id, created_at), oldest first: those this
        node rendered lately come from memory (after a restart or a network blip, every tab
        replays the same messages), the rest are rendered now; deleted ones are left out."""
        known = {
            message_id: fanout
            for message_id, created_at in stamps
            if (fanout := self._rendered.get(message_id)) and fanout.created_at == created_at
        }
        missing = [message_id for message_id, _ in stamps if message_id not in known]
        if missing:
            known.update((fanout.message_id, fanout) for fanout in await self._render(missing))
        return [known[message_id] for message_id, _ in stamps if message_id in known]

    async def _presence_changed(self) -> None:
        """Re-render the people list, once per room of the changed users with sockets on this
        node (the whole list, so newcomers appear and the order stays right).

        At most once per PRESENCE_RENDER_SECONDS (longer with many sockets, see the config):
        the first change renders at once, the ones
        that follow within the window share one render at its end. When hundreds of users come
        online together (a restart, a morning), one render per change held the broker's queue
        for seconds and sent every socket hundreds of lists (measured: 3,000 sockets got no
        message for 15 s)."""
        if self._presence_timer is not None:
            return  # a render is already scheduled; it will include these users
        config = self._app.config
        interval = max(
            config["PRESENCE_RENDER_SECONDS"],
            self.open_sockets() / config["PRESENCE_FRAMES_PER_SECOND"],
        )
        wait = self._presence_rendered + interval
        wait -= time.monotonic()
        if wait > 0:
            self._presence_timer = asyncio.create_task(self._render_presence_later(wait))
            return
        users, self._presence_pending = self._presence_pending, set()
        self._presence_rendered = time.monotonic()
        query = Membership.filter(user_id__in=users).distinct()
        rooms: list[int] = await query.values_list("room_id", flat=True)  # type: ignore[assignment]
        async with self._app.app_context():
            for room_id in rooms:
                if self._rooms.get(room_id):
                    text = await streams.render_presence_update(room_id, users=users)
                    await self._write_to(room_id, [(None, text)])

    async def presence_for_returning_tab(self, room_id: int, since: datetime | None) -> str:
        """The people-list update for a tab that opens a socket having last seen the list
        ``since`` (None: unknown). Tabs back within a few seconds of each other share it;
        any presence change since makes a new one."""
        if since is None:
            return await streams.render_presence_update(room_id)
        bucket = int(since.timestamp()) // RETURNING_BUCKET_SECONDS * RETURNING_BUCKET_SECONDS
        key = (room_id, bucket, self._presence_version)
        if key not in self._returning:
            widened = datetime.fromtimestamp(bucket, UTC)
            text = await streams.render_presence_update(room_id, since=widened)
            if len(self._returning) >= RETURNING_RENDERS_KEPT:
                del self._returning[next(iter(self._returning))]  # the oldest
            self._returning[key] = text
        return self._returning[key]

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
        if not self._rooms.get(room_id):
            return
        names = dict(await User.filter(id__in=list(typing)).values_list("id", "username"))

        async def line_without(typist: int | None) -> list[Fragment]:
            shown = sorted(name for user, name in names.items() if user != typist)
            return [(None, await streams.render_typing(shown))]

        async with self._app.app_context():
            everyone = await line_without(None)
            typists = {typist: await line_without(typist) for typist in names}
        await self._write_to(room_id, everyone, typists)

    async def _write_to(
        self,
        room_id: int,
        for_everyone: list[Fragment],
        for_some: Mapping[int, list[Fragment]] = MappingProxyType({}),
    ) -> None:
        """Write ``for_everyone`` to each socket of ``room_id`` on this node, or the variant in
        ``for_some`` for its user (messages' authors, typists).

        Writes to sockets that keep up finish at once, so a pass is one stretch of CPU; every
        WRITE_SLICE sockets it lets the event loop run, or each database reply a post waits
        for would wait for a whole pass (and posts, serialised per room, for several).
        """
        for n, connection in enumerate(list(self._rooms.get(room_id, ())), 1):
            connection.offer_all(for_some.get(connection.user_id, for_everyone))
            if n % WRITE_SLICE == 0:
                await asyncio.sleep(0)

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
            await refresh_sockets(self.node_id)
            await prune_presence(timedelta(seconds=config["PRESENCE_STALE_SECONDS"]))
        # Sessions ended where no event reaches us (a CLI process with memory://) close here.
        tokens = {c.session_token for c in self.connections() if c.session_token}
        ended = tokens - await valid_session_tokens(tokens)
        for connection in self.connections():
            if connection.session_token in ended:
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
