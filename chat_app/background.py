"""Work done after a request has answered (pushes, link previews): kept so that it can be
awaited (tests) or cancelled (shutdown), and bounded so that a slow outside service cannot
pile up work without end."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class Tasks:
    """At most ``max_pending`` background tasks at once."""

    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
        """Run ``work`` in the background (kept until done); None, and ``work`` dropped, when
        ``max_pending`` tasks are running already."""
        if len(self._tasks) >= self.max_pending:
            work.close()
            return None
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self) -> None:
        """Wait for the tasks started so far, and those they start."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        """Cancel what is still running, and wait until it has stopped."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
