"""A lighter queue between Hypercorn and the app, one per connection.

Hypercorn hands each request's or websocket's events to the app through an ``asyncio.Queue``
of at most ``max_app_queue_size`` events: three deques and an ``Event`` (a fourth), ~3 KB, of
a websocket's ~36 KB, held for as long as the socket is open. Hypercorn uses only ``put``
(waiting while the queue is full, which is its back-pressure on a client that sends faster
than the app reads) and ``get``. ``AppQueue`` does just that with three lists (~170 bytes
empty). ``install()`` makes Hypercorn's TCP server use it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from hypercorn.asyncio import task_group as hypercorn_task_group
from hypercorn.asyncio import tcp_server
from hypercorn.config import Config
from hypercorn.typing import AppWrapper, ASGIReceiveEvent, ASGISendEvent, Scope


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


def install() -> None:
    """Make Hypercorn's asyncio TCP server give each connection an ``AppQueue``."""
    tcp_server.TaskGroup = AppQueueTaskGroup  # type: ignore[attr-defined]
