"""This node's live connections: one bounded queue and one sender task per socket.

Fan-out renders an event once and only enqueues text, so a slow socket never stalls the
others; a socket whose queue is full is closed (its tab reconnects and catches up).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Protocol

from quart import Quart

from chat_app import metrics
from chat_app.logs import log_event
from chat_app.realtime import streams
from chat_app.realtime.events import Event, MessagePosted, SessionsRevoked

log = logging.getLogger(__name__)

POLICY_VIOLATION = 1008  # the ws extension does not reconnect after this one
SERVICE_RESTART = 1012  # ... and reconnects after these two
TRY_AGAIN_LATER = 1013


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
        self.queue: asyncio.Queue[tuple[int | None, str]] = asyncio.Queue(maxsize=queue_size)
        # Messages already sent by catch-up; their live copies are skipped, never shown twice.
        self.replayed: set[int] = set()
        self.close_code: int | None = None
        self.close_reason = ""
        self._sender: asyncio.Task[None] | None = None

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
        while self.close_code is None:  # close() may come before the sender starts
            batch = [await self.queue.get()]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            # One frame for everything queued: the ws extension swaps each top-level element.
            text = "".join(t for mid, t in batch if mid is None or mid not in self.replayed)
            if text:
                with metrics.DELIVERY_SECONDS.time():
                    await self.socket.send(text)


class Hub:
    """Connections by room, and the fan-out of events to them."""

    def __init__(self, app: Quart) -> None:
        self._app = app
        self._rooms: defaultdict[int, set[Connection]] = defaultdict(set)
        self.drained = asyncio.Event()  # set while no socket is open (shutdown waits on it)
        self.drained.set()

    def attach(self, connection: Connection) -> None:
        """Subscribe a connection to its room's events (before any catch-up query)."""
        self._rooms[connection.room_id].add(connection)
        self.drained.clear()
        metrics.OPEN_CONNECTIONS.inc()

    def detach(self, connection: Connection) -> None:
        """Forget a connection that has ended."""
        room = self._rooms.get(connection.room_id)
        if room is not None:
            room.discard(connection)
            if not room:
                del self._rooms[connection.room_id]
        if not self._rooms:
            self.drained.set()
        metrics.OPEN_CONNECTIONS.dec()

    def sockets_of(self, user_id: int) -> int:
        """How many sockets ``user_id`` has open on this node."""
        return sum(c.user_id == user_id for c in self.connections())

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

    def open_sockets(self) -> int:
        """How many sockets are open on this node."""
        return sum(len(room) for room in self._rooms.values())

    def close_all(self, code: int = SERVICE_RESTART, reason: str = "server restarting") -> None:
        """Close every socket (shutdown: 1012 makes clients reconnect at once)."""
        for connection in self.connections():
            connection.close(code, reason)
