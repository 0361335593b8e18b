"""Admitting a socket's frames as they arrive, so a flood cannot pile up in memory.

Quart queues incoming frames without bound while a handler is busy (say, in a database
write). Our websocket's buffer (``GatedBuffer``, Quart's ``buffer_class``) decides on each
frame as it arrives: at most ``burst`` wait for the handler; frames over the rate or the
backlog are dropped, with a notice, and a socket that keeps flooding is closed with 1008.
Every kind of frame (messages, typing signals, anything else) spends from the same budget.

Deciding in the buffer costs an idle socket nothing: an earlier gate read frames with a task
of its own, and a task per frame waiting for the next one (~8 KB a socket, and a task and a
``wait`` per heartbeat).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

from quart import current_app
from quart.wrappers.base import ClientDisconnectedError
from quart.wrappers.websocket import Buffer

from chat_app.buckets import TokenBucket
from chat_app.realtime import streams
from chat_app.realtime.connection import POLICY_VIOLATION, Connection

DROPPED_NOTICE = "You are sending too fast: some of what you sent was dropped. Slow down."
UNGATED_BACKLOG = 64  # frames kept before the handler sets up its gate, which then judges them


class FrameGate:
    """At most ``rate`` frames per second (bursts of ``burst``) reach the handler.

    Dropped frames call ``on_drop`` once per run of drops (so the notices cannot flood the
    outbound queue in turn); after ``tolerance`` drops, refilled at ``rate``, ``on_abuse``
    is called and every later frame is dropped.
    """

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        tolerance: int,
        on_drop: Callable[[], None],
        on_abuse: Callable[[], None],
    ) -> None:
        self._burst = burst
        self._frames = TokenBucket(rate, burst)
        self._strikes = TokenBucket(rate, tolerance)
        self._on_drop, self._on_abuse = on_drop, on_abuse
        self._in_a_run_of_drops = False
        self.abused = False
        self.dropped = 0

    def admit(self, queued: int) -> bool:
        """Whether a frame that just arrived may wait for the handler, behind ``queued``."""
        if not self.abused and queued < self._burst and not self._frames.take(None):
            self._in_a_run_of_drops = False
            return True
        self.dropped += 1
        if self.abused:
            return False
        if self._strikes.take(None):
            self.abused = True
            self._on_abuse()
        elif not self._in_a_run_of_drops:
            self._in_a_run_of_drops = True
            self._on_drop()
        return False


class GatedBuffer(Buffer):
    """Quart's buffer of received frames, with a ``FrameGate`` deciding on each arrival.

    Frames wait in a list, and the handler for them on one future: Quart's ``asyncio.Queue``
    (bounded here by the gate anyway) cost every socket four deques and an Event, ~3 KB.
    """

    def __init__(self) -> None:  # not Buffer's: its queue is what this replaces
        self.gate: FrameGate | None = None
        self._frames: list[bytes | str] = []
        self._waiter: asyncio.Future[None] | None = None
        self._disconnected = False

    def queued(self) -> int:
        """Frames received and waiting for the handler."""
        return len(self._frames)

    def install(self, gate: FrameGate) -> None:
        """Put ``gate`` in front; the frames that arrived before it are judged by it too."""
        early, self._frames = self._frames, []
        self.gate = gate
        for frame in early:
            self._admit(frame)

    async def put(self, data: bytes | str) -> None:
        self._admit(data)

    async def get(self) -> bytes | str:
        """The next frame; the frames left after a disconnect, then ClientDisconnectedError."""
        while not self._frames:
            if self._disconnected:
                raise ClientDisconnectedError()
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._frames.pop(0)

    def disconnect(self) -> None:
        self._disconnected = True
        self._wake()

    def _admit(self, data: bytes | str) -> None:
        queued = self.queued()
        if queued < UNGATED_BACKLOG if self.gate is None else self.gate.admit(queued):
            self._frames.append(data)
            self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


@contextlib.contextmanager
def gated(connection: Connection, buffer: GatedBuffer, notice: str) -> Iterator[FrameGate]:
    """``buffer`` behind a FrameGate set up from the app's settings, for ``connection``;
    ``notice`` is what a tab whose frames were dropped is sent."""
    cfg = current_app.config
    gate = FrameGate(
        rate=cfg["WS_FRAMES_PER_SECOND"],
        burst=cfg["WS_FRAMES_BURST"],
        tolerance=cfg["WS_FRAMES_DROPPED_BEFORE_CLOSE"],
        on_drop=lambda: connection.offer(None, notice),
        on_abuse=lambda: connection.close(POLICY_VIOLATION, "too many frames"),
    )
    buffer.install(gate)
    try:
        yield gate
    finally:
        # The gate holds the connection, which holds the socket, which holds the buffer: let
        # go, or every closed socket would wait for a full garbage collection.
        buffer.gate = None


async def dropped_notice() -> str:
    """The notice for dropped frames, rendered once per app."""
    rendered: str | None = current_app.extensions.get("dropped_notice")
    if rendered is None:
        rendered = current_app.extensions["dropped_notice"] = await streams.render_notice(
            DROPPED_NOTICE
        )
    return rendered
