"""Who is typing where, and the typing line on this node's sockets.

Every node derives the state from the typing events alone (no rows): a typist shows until
they send, stop, or TYPING_TTL_SECONDS pass without a new signal.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

from quart import Quart

from chat_app.models import User
from chat_app.realtime import streams
from chat_app.realtime.connection import Fragment, Rooms, write_each


class Typists:
    """Typing state per room, and the re-render of a room's typing line when it changes."""

    def __init__(self, app: Quart, rooms: Rooms) -> None:
        self._app = app
        self._rooms = rooms
        # Who is typing where, until when (monotonic).
        self._typing: defaultdict[int, dict[int, float]] = defaultdict(dict)
        self._timers: set[asyncio.Task[None]] = set()

    async def started(self, room_id: int, user_id: int) -> None:
        """``user_id`` is typing in ``room_id`` (for TYPING_TTL_SECONDS unless renewed)."""
        ttl: float = self._app.config["TYPING_TTL_SECONDS"]
        self._typing[room_id][user_id] = time.monotonic() + ttl
        self._changed_after(ttl, room_id)
        await self._changed(room_id)

    async def stopped(self, room_id: int, user_id: int) -> None:
        """``user_id`` stopped typing in ``room_id`` (they sent, or said so, or left)."""
        if self._typing[room_id].pop(user_id, None) is not None:
            await self._changed(room_id)

    def is_typing(self, room_id: int, user_id: int) -> bool:
        """Whether ``user_id`` shows as typing in ``room_id``."""
        return self._typing[room_id].get(user_id, 0.0) > time.monotonic()

    async def _changed(self, room_id: int) -> None:
        """Re-render the room's typing line: one text per distinct audience, never per socket.

        Typists don't see themselves, so each typist on this node gets its own variant;
        everyone else shares one.
        """
        now = time.monotonic()
        typing = {u: t for u, t in self._typing[room_id].items() if t > now}
        self._typing[room_id] = typing
        if not self._rooms.sockets_in(room_id):
            return
        names = dict(await User.filter(id__in=list(typing)).values_list("id", "username"))

        async def line_without(typist: int | None) -> list[Fragment]:
            shown = sorted(name for user, name in names.items() if user != typist)
            return [(None, await streams.render_typing(shown))]

        async with self._app.app_context():
            everyone = await line_without(None)
            typists = {typist: await line_without(typist) for typist in names}
        await write_each(self._rooms.sockets_in(room_id), everyone, typists)

    def _changed_after(self, delay: float, room_id: int) -> None:
        """Re-render ``room_id``'s line after ``delay`` seconds (expiry needs no new event)."""

        async def later() -> None:
            await asyncio.sleep(delay + 0.01)
            await self._changed(room_id)

        task = asyncio.create_task(later())
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    def cancel_timers(self) -> None:
        """Drop the scheduled expiries (shutdown)."""
        for timer in list(self._timers):
            timer.cancel()
