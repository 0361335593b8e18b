"""Lighter versions of objects Hypercorn makes for every connection.

An idle websocket is mostly the objects its server keeps for it, and in CPython an empty
``collections.deque`` costs ~760 bytes. Hypercorn gives each connection structures
built on deques that hold at most a few items:

- the queue of events for the app, an ``asyncio.Queue`` of at most ``max_app_queue_size``:
  three deques and an ``asyncio.Event`` (a fourth), ~3 KB. Hypercorn only ``put``s (waiting
  while it is full: its back-pressure on a client that sends faster than the app reads) and
  ``get``s; ``AppQueue`` does that with three lists (~170 bytes empty).
- the HTTP/1.1 protocol's ``can_read`` event, an ``asyncio.Event`` behind a wrapper;
  ``LeanEvent`` has a list of waiters only while someone waits.
- wsproto's connection keeps a deque of pending events that is only ever appended to (once,
  when the TCP connection is lost) and drained from the front; ``EventList`` is a list that
  does that.
- asyncio's stream protocol keeps a deque of the tasks waiting to drain, which it only
  appends to, removes from and iterates over; a list does the same.

Of a websocket's ~36 KB traced the first two were ~3.4 KB, the last two ~1.5 KB.
``install()`` makes Hypercorn's asyncio server use all four; everything else about it is
unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from hypercorn.asyncio import run as hypercorn_run
from hypercorn.asyncio import task_group as hypercorn_task_group
from hypercorn.asyncio import tcp_server, worker_context
from hypercorn.config import Config
from hypercorn.protocol import ws_stream
from hypercorn.typing import AppWrapper, ASGIReceiveEvent, ASGISendEvent, Scope
from wsproto.connection import Connection as WsprotoConnection


class AppQueue:
    """A FIFO of at most ``maxsize`` items (0: unbounded): ``put`` waits while it is full,
    ``get`` while it is empty; waiters are woken in order, and one cancelled after it was
    woken passes the wake-up on (as ``asyncio.Queue`` does)."""

    __slots__ = ("_getters", "_items", "_maxsize", "_putters")

    def __init__(self, maxsize: int = 0) -> None:
        self._items: list[Any] = []
        self._maxsize = maxsize
        self._getters: list[asyncio.Future[None]] = []
        self._putters: list[asyncio.Future[None]] = []

    def full(self) -> bool:
        return 0 < self._maxsize <= len(self._items)

    async def put(self, item: Any) -> None:
        while self.full():
            await _wait_in(self._putters, wakes_next=lambda: not self.full())
        self._items.append(item)
        _wake_first(self._getters)

    async def get(self) -> Any:
        while not self._items:
            await _wait_in(self._getters, wakes_next=lambda: bool(self._items))
        item = self._items.pop(0)
        _wake_first(self._putters)
        return item


async def _wait_in(waiters: list[asyncio.Future[None]], wakes_next: Callable[[], bool]) -> None:
    waiter = asyncio.get_running_loop().create_future()
    waiters.append(waiter)
    try:
        await waiter
    except asyncio.CancelledError:
        waiter.cancel()
        if waiter in waiters:
            waiters.remove(waiter)
        if wakes_next():  # it may have been woken for what is there now: pass that on
            _wake_first(waiters)
        raise


def _wake_first(waiters: list[asyncio.Future[None]]) -> None:
    while waiters:
        waiter = waiters.pop(0)
        if not waiter.done():
            waiter.set_result(None)
            return


class AppQueueTaskGroup(hypercorn_task_group.TaskGroup):
    """Hypercorn's per-connection task group, spawning the app with an ``AppQueue``."""

    async def spawn_app(
        self,
        app: AppWrapper,
        config: Config,
        scope: Scope,
        send: Callable[[ASGISendEvent | None], Awaitable[None]],
    ) -> Callable[[ASGIReceiveEvent], Awaitable[None]]:
        queue = AppQueue(config.max_app_queue_size)

        def call_soon(func: Callable[..., Any], *args: Any) -> Any:  # as Hypercorn's own
            return asyncio.run_coroutine_threadsafe(func(*args), self._loop).result()

        self.spawn(
            hypercorn_task_group._handle,
            app,
            config,
            scope,
            queue.get,
            send,
            partial(self._loop.run_in_executor, None),
            call_soon,
        )
        return queue.put


class LeanEvent:
    """Hypercorn's event (``asyncio.Event``'s behaviour, with awaitable ``set`` and
    ``clear``): ``wait`` returns once it is set; ``set`` wakes every waiter."""

    __slots__ = ("_is_set", "_waiters")

    def __init__(self) -> None:
        self._is_set = False
        self._waiters: list[asyncio.Future[None]] | None = None  # only while someone waits

    def is_set(self) -> bool:
        return self._is_set

    async def set(self) -> None:
        self._is_set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    async def clear(self) -> None:
        self._is_set = False

    async def wait(self) -> None:
        if self._is_set:
            return
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:  # cancelled, not woken
                self._waiters.remove(waiter)
                if not self._waiters:
                    self._waiters = None


class EventList(list[Any]):
    """The ``append`` and ``popleft`` of a deque, for a queue that holds at most one item."""

    __slots__ = ()

    def popleft(self) -> Any:
        return self.pop(0)


class LeanWsprotoConnection(WsprotoConnection):
    """wsproto's connection, keeping its pending events in an ``EventList``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._events = EventList(self._events)  # type: ignore[assignment]


class LeanTCPServer(tcp_server.TCPServer):
    """Hypercorn's connection, with its stream's drain waiters in a list."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.writer._protocol._drain_waiters = []  # type: ignore[attr-defined]


def install() -> None:
    """Make Hypercorn's asyncio server give each connection an ``AppQueue``,
    ``LeanEvent``s, an ``EventList`` and a list of drain waiters."""
    tcp_server.TaskGroup = AppQueueTaskGroup  # type: ignore[attr-defined]
    worker_context.WorkerContext.event_class = LeanEvent
    ws_stream.Connection = LeanWsprotoConnection  # type: ignore[attr-defined]
    hypercorn_run.TCPServer = LeanTCPServer  # type: ignore[attr-defined,assignment]
