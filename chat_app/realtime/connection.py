"""One open websocket and its bounded writes, and the write pass over many of them.

A socket that pushes back keeps a bounded backlog that joins its next frame, so it never
stalls the others; one whose backlog is full is closed (its tab reconnects and catches up).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Set
from types import MappingProxyType
from typing import Protocol

from chat_app import metrics
from chat_app.logs import log_event

log = logging.getLogger(__name__)

POLICY_VIOLATION = 1008  # the ws extension does not reconnect after this one
SERVICE_RESTART = 1012  # ... and reconnects after these two
TRY_AGAIN_LATER = 1013
WRITE_SLICE = 64


class Socket(Protocol):
    def write_now(self, data: str) -> bool:
        """Write ``data`` as one frame at once if the connection takes it without waiting;
        False (nothing written) otherwise. Never raises."""
        ...

    async def send(self, data: str) -> None: ...


Fragment = tuple[int | None, str]  # (change number, or None for no change; HTML)


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
        # The newest change of the room this tab has been sent (its resume cursor): changes
        # go out in order, so one offered again (by the catch-up and live, or two reads) is
        # skipped with one comparison, and nothing is shown twice.
        self.cursor = 0
        self._live = False  # until go_live(): the catch-up is written first
        self._writer: asyncio.Task[None] | None = None
        self._writing = False
        self.ended = False  # the socket should close, or a write failed
        self.on_end: Callable[[], None] | None = None  # called once, when it ends
        self.error: Exception | None = None
        self.close_code: int | None = None
        self.close_reason = ""

    def fresh(self, change: int | None) -> bool:
        """Whether a fragment applying ``change`` (None: no change, e.g. a notice) is still to
        go out; if so, the cursor moves to it."""
        if change is None:
            return True
        if change <= self.cursor:
            return False
        self.cursor = change
        return True

    def offer(self, change: int | None, text: str) -> None:
        """Send ``text`` now, or with the next frame if a write is in flight."""
        self.offer_all([(change, text)])

    def offer_all(self, fragments: list[Fragment]) -> None:
        """Send ``fragments`` as one frame; close the socket when it cannot keep up."""
        if self.ended:
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
        self._ended()
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()  # a client that stopped reading must not hold its task

    def _ended(self) -> None:
        if self.ended:
            return
        self.ended = True
        if self.on_end is not None:
            self.on_end()

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
            change, text = batch[0]
            return text if self.fresh(change) else ""
        # One frame for everything waiting: the ws extension swaps each top-level element.
        return "".join(text for change, text in batch if self.fresh(change))

    async def _write(self, text: str) -> None:
        """Write ``text``, then what was offered meanwhile, as fast as the client reads."""
        try:
            while text and not self.ended:
                await self.socket.send(text)
                text = self._take_waiting()
        except Exception as error:  # the client went away mid-write (or worse: logged)
            self.error = error
            self._ended()
        finally:
            self._writing = False


class Rooms(Protocol):
    """What the parts that write to rooms (fan-out, presence, typing) see of the registry."""

    def sockets_in(self, room_id: int) -> Set[Connection]:
        """The open connections of ``room_id`` on this node (live: copy before awaiting)."""
        ...

    def open_sockets(self) -> int:
        """How many sockets are open on this node."""
        ...


async def write_each(
    connections: Iterable[Connection],
    for_everyone: list[Fragment],
    for_some: Mapping[int, list[Fragment]] = MappingProxyType({}),
) -> None:
    """Write ``for_everyone`` to each of ``connections``, or the variant in ``for_some`` for
    its user (messages' authors, typists).

    Writes to sockets that keep up finish at once, so a pass is one stretch of CPU; every
    WRITE_SLICE sockets it lets the event loop run, or each database reply a post waits
    for would wait for a whole pass (and posts, serialised per room, for several).
    """
    for n, connection in enumerate(list(connections), 1):
        connection.offer_all(for_some.get(connection.user_id, for_everyone))
        if n % WRITE_SLICE == 0:
            await asyncio.sleep(0)
