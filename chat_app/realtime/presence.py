"""The people list on this node's sockets: throttled re-renders, shared renders for returning
tabs."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime

from quart import Quart

from chat_app.db import database_unavailable
from chat_app.logs import log_unavailable
from chat_app.models import Membership
from chat_app.realtime import streams
from chat_app.realtime.connection import Rooms, write_each
from chat_app.realtime.shared import SharedTasks

log = logging.getLogger(__name__)

RETURNING_BUCKET_SECONDS = 5
RETURNING_RENDERS_KEPT = 64


class PeopleList:
    """Re-renders the people lists of rooms whose members came or went."""

    def __init__(self, app: Quart, rooms: Rooms) -> None:
        self._app = app
        self._rooms = rooms
        # Renders are throttled (see _render_due): users changed since the last one.
        self._pending: set[int] = set()
        self._rendered = -float("inf")
        self._timer: asyncio.Task[None] | None = None
        # People-list updates for returning tabs, by (room, since, render generation): tabs
        # that come back together (a restart, a network blip) share one render, from the
        # moment it starts.
        self._generation = 0  # live renders started; changes after the last are pending
        self._returning = SharedTasks[tuple[int, int, int], str](RETURNING_RENDERS_KEPT)

    async def changed(self, users: Iterable[int]) -> None:
        """``users`` came online, went offline or changed status."""
        self._pending.update(users)
        await self._render_due()

    async def _render_due(self) -> None:
        """Re-render the people list, once per room of the changed users with sockets on this
        node (the whole list, so newcomers appear and the order stays right).

        At most once per PRESENCE_RENDER_SECONDS (longer with many sockets, see the config):
        the first change renders at once, the ones
        that follow within the window share one render at its end. When hundreds of users come
        online together (a restart, a morning), one render per change held the broker's queue
        for seconds and sent every socket hundreds of lists (measured: 3,000 sockets got no
        message for 15 s)."""
        if self._timer is not None:
            return  # a render is already scheduled; it will include these users
        config = self._app.config
        interval = max(
            config["PRESENCE_RENDER_SECONDS"],
            self._rooms.open_sockets() / config["PRESENCE_FRAMES_PER_SECOND"],
        )
        wait = self._rendered + interval
        wait -= time.monotonic()
        if wait > 0:
            self._timer = asyncio.create_task(self._render_later(wait))
            return
        users, self._pending = self._pending, set()
        self._generation += 1
        self._rendered = time.monotonic()
        query = Membership.filter(user_id__in=users).distinct()
        rooms: list[int] = await query.values_list("room_id", flat=True)  # type: ignore[assignment]
        async with self._app.app_context():
            for room_id in rooms:
                if self._rooms.sockets_in(room_id):
                    text = await streams.render_presence_update(room_id, users=users)
                    await write_each(self._rooms.sockets_in(room_id), [(None, text)])

    async def _render_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._timer = None
        try:
            await self._render_due()
        except Exception as error:
            if database_unavailable(error):
                log_unavailable(log, "presence", error)
            else:
                log.exception("rendering presence failed")

    async def for_returning_tab(self, room_id: int, since: datetime | None) -> str:
        """The people-list update for a tab that opens a socket having last seen the list
        ``since`` (None: unknown). Tabs back within a few seconds of each other share it
        until the next live render starts: a change since the last one is pending, and the
        socket, attached before it asks, gets that render like every socket of the room.

        In a connect storm every tab's user comes online, so a render per presence change
        was a render per connect, each of the latest changes: a quarter of a connect's CPU,
        growing with the crowd. Per live render, it is a few a second at most."""
        if since is None:
            return await streams.render_presence_update(room_id)
        bucket = int(since.timestamp()) // RETURNING_BUCKET_SECONDS * RETURNING_BUCKET_SECONDS
        widened = datetime.fromtimestamp(bucket, UTC)
        # Shared while it renders too: tabs connecting together all missed a finished render,
        # and each made its own (a third of a handshake's CPU in a storm).
        return await self._returning.run(
            (room_id, bucket, self._generation),
            lambda: streams.render_presence_update(room_id, since=widened),
        )

    def cancel_timer(self) -> None:
        """Drop a scheduled render (shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
