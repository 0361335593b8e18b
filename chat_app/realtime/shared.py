"""Work that sockets joining together would each repeat, done once for all of them."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Hashable
from typing import Any


class SharedTasks[K: Hashable, V]:
    """The result of one task per key, shared by everyone who asks for that key while it is
    kept: at most ``kept`` keys, the oldest dropped first. The key says what the result is
    good for (a room and the state it was read in); a task that failed (the database away)
    is forgotten, so the next asker runs it again."""

    def __init__(self, kept: int) -> None:
        self._kept = kept
        self._tasks: dict[K, asyncio.Task[V]] = {}

    async def run(self, key: K, start: Callable[[], Coroutine[Any, Any, V]]) -> V:
        """``start()``'s result for ``key``: the kept task's, or that of one started now."""
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.create_task(start())
            task.add_done_callback(functools.partial(self._forget_failed, key))
            if len(self._tasks) >= self._kept:
                del self._tasks[next(iter(self._tasks))]
            self._tasks[key] = task
        # Shielded: the asker that started it may leave (its client went); the others wait on.
        return await asyncio.shield(task)

    def _forget_failed(self, key: K, done: asyncio.Task[V]) -> None:
        failed = done.cancelled() or done.exception() is not None  # retrieved, never logged
        if failed and self._tasks.get(key) is done:
            del self._tasks[key]
