"""Work that sockets joining together would each repeat, done once for all of them."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Hashable
from typing import Any


class SharedTasks[K: Hashable, V]:
    """The result of one task per key, shared by everyone who asks for that key while it is
    kept: at most ``kept`` keys, the oldest dropped first, and with ``keep_seconds`` none for
    longer than that after it finished. The key says what the result is good for (a room
    and the state it was read in); a task that failed (the database away) is forgotten, so
    the next asker runs it again."""

    def __init__(self, kept: int, keep_seconds: float | None = None) -> None:
        self._kept = kept
        self._keep_seconds = keep_seconds
        self._tasks: dict[K, asyncio.Task[V]] = {}

    async def run(self, key: K, start: Callable[[], Coroutine[Any, Any, V]]) -> V:
        """``start()``'s result for ``key``: the kept task's, or that of one started now."""
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.create_task(start())
            task.add_done_callback(functools.partial(self._finished, key))
            if len(self._tasks) >= self._kept:
                del self._tasks[next(iter(self._tasks))]
            self._tasks[key] = task
        # Shielded: the asker that started it may leave (its client went); the others wait on.
        return await asyncio.shield(task)

    def _finished(self, key: K, done: asyncio.Task[V]) -> None:
        failed = done.cancelled() or done.exception() is not None  # retrieved, never logged
        if failed:
            self._forget(key, done)
        elif self._keep_seconds is not None:
            asyncio.get_running_loop().call_later(self._keep_seconds, self._forget, key, done)

    def _forget(self, key: K, done: asyncio.Task[V]) -> None:
        if self._tasks.get(key) is done:
            del self._tasks[key]
