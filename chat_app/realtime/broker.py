"""Brokers carry events from the node that committed them to every node's hub."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from quart import current_app

from chat_app.realtime.events import Event

log = logging.getLogger(__name__)

Deliver = Callable[[Event], Awaitable[None]]


class Broker(Protocol):
    """Publish events; deliver every published event (from any node) to ``deliver``."""

    async def start(self, deliver: Deliver) -> None: ...

    async def publish(self, event: Event) -> None: ...

    async def ping(self) -> None:
        """Return if events can flow, raise if not (``/readyz``)."""
        ...

    async def stop(self) -> None: ...


class MemoryBroker:
    """One process: a queue and a task, so publishing never waits for the fan-out."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self, deliver: Deliver) -> None:
        """Begin delivering published events."""
        self._task = asyncio.create_task(self._run(deliver), name="memory-broker")

    async def publish(self, event: Event) -> None:
        """Queue ``event`` for delivery."""
        self._queue.put_nowait(event)

    async def ping(self) -> None:
        """Raise unless the delivery task is running."""
        if self._task is None or self._task.done():
            raise RuntimeError("the memory broker is not running")

    async def stop(self) -> None:
        """Stop delivering; events still queued are dropped with the process."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, deliver: Deliver) -> None:
        while True:
            event = await self._queue.get()
            try:
                await deliver(event)
            except Exception:
                log.exception("delivering %r failed", event)


def broker_from_url(url: str) -> Broker:
    """The broker ``CHAT_BROKER_URL`` names."""
    if url.startswith("memory:"):
        return MemoryBroker()
    raise ValueError(f"CHAT_BROKER_URL: unsupported broker {url!r} (supported: memory://)")


async def publish(event: Event) -> None:
    """Publish through the current app's broker. Call only after the commit."""
    broker: Broker = current_app.extensions["broker"]
    await broker.publish(event)
