"""Reading a socket's frames promptly, so a flood cannot pile up in memory.

Quart queues incoming frames without bound while a handler is busy (say, in a database
write). The gate reads every frame as soon as it arrives and keeps at most ``burst`` of them
waiting; frames over the rate or the backlog are dropped on arrival, with a notice, and a
socket that keeps flooding is closed with 1008. Every kind of frame (messages, typing
signals, anything else) spends from the same budget.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from quart import current_app

from chat_app.buckets import TokenBucket
from chat_app.realtime import streams
from chat_app.realtime.connection import POLICY_VIOLATION, Connection

Frame = str | bytes | None
Receive = Callable[[], Awaitable[Frame]]

DROPPED_NOTICE = "You are sending too fast: some of what you sent was dropped. Slow down."


class FrameGate:
    """At most ``rate`` frames per second (bursts of ``burst``) reach the handler.

    Dropped frames call ``on_drop`` once per run of drops (so the notices cannot flood the
    outbound queue in turn); after ``tolerance`` drops, refilled at ``rate``, ``on_abuse``
    is called and reading stops.
    """

    def __init__(
        self,
        receive: Receive,
        *,
        rate: float,
        burst: int,
        tolerance: int,
        on_drop: Callable[[], None],
        on_abuse: Callable[[], None],
    ) -> None:
        self._receive = receive
        self._frames = TokenBucket(rate, burst)
        self._strikes = TokenBucket(rate, tolerance)
        self._backlog: asyncio.Queue[Frame] = asyncio.Queue(maxsize=burst)
        self._on_drop, self._on_abuse = on_drop, on_abuse
        self._in_a_run_of_drops = False
        self.dropped = 0

    def queued(self) -> int:
        """Frames read and waiting for the handler (never more than ``burst``)."""
        return self._backlog.qsize()

    async def pump(self) -> None:
        """Read frames until the client leaves or abuses the socket."""
        while True:
            frame = await self._receive()
            if not self._backlog.full() and not self._frames.take(None):
                self._backlog.put_nowait(frame)
                self._in_a_run_of_drops = False
                continue
            self.dropped += 1
            if self._strikes.take(None):
                self._on_abuse()
                return
            if not self._in_a_run_of_drops:
                self._in_a_run_of_drops = True
                self._on_drop()

    async def next_frame(self, pump: asyncio.Task[None]) -> Frame:
        """The next admitted frame; the pump's error (a disconnect) if it failed first."""
        getter = asyncio.ensure_future(self._backlog.get())
        try:
            await asyncio.wait({getter, pump}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done() and (error := pump.exception()) is not None:
                raise error
            return await getter
        finally:
            getter.cancel()  # no-op once done; else it would outlive a cancelled reader
            # Re-raised here, the pump's error keeps this frame in its traceback: holding the
            # task, the frame would make a cycle (task → error → frame → task), and every
            # closed socket's objects would wait for a full garbage collection.
            del pump


@contextlib.asynccontextmanager
async def gated(connection: Connection, receive: Receive) -> AsyncIterator[Receive]:
    """``receive`` behind a FrameGate set up from the app's settings, for ``connection``."""
    cfg = current_app.config
    notice = await streams.render_notice(DROPPED_NOTICE)
    gate = FrameGate(
        receive,
        rate=cfg["WS_FRAMES_PER_SECOND"],
        burst=cfg["WS_FRAMES_BURST"],
        tolerance=cfg["WS_FRAMES_DROPPED_BEFORE_CLOSE"],
        on_drop=lambda: connection.offer(None, notice),
        on_abuse=lambda: connection.close(POLICY_VIOLATION, "too many frames"),
    )
    pump = asyncio.create_task(gate.pump())
    try:
        yield lambda: gate.next_frame(pump)
    finally:
        pump.cancel()
        # Waited for, not awaited: awaiting would re-raise its error (a disconnect) here, and
        # that error's traceback would hold this frame, which holds the task (a cycle).
        await asyncio.wait({pump})
