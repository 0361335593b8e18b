"""New messages onto this node's sockets, and the render cache that catch-ups replay from.

Events come in batches; each message is rendered once (plus its author's variant), and each
socket of a room gets the room's new messages as one frame, written in one pass.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from quart import Quart

from chat_app import metrics
from chat_app.realtime import streams
from chat_app.realtime.connection import Rooms, write_each
from chat_app.realtime.events import MessagePosted

RENDERED_KEPT = 2048  # ~1.5 KB each


class MessageFanout:
    """Writes posted messages to the sockets of their rooms, and keeps the latest renders."""

    def __init__(self, app: Quart, rooms: Rooms) -> None:
        self._app = app
        self._rooms = rooms
        # The latest messages' renders, oldest first: catch-ups replay them from here.
        self._rendered: dict[int, streams.Fanout] = {}

    async def fan_out(self, posted: list[MessagePosted]) -> list[streams.Fanout]:
        """Render each message once (plus its author's variant) and write the room's new
        messages to each of its sockets on this node as one frame; returns what was sent
        (nothing for rooms without a socket here, nor for deleted messages)."""
        wanted = [event.message_id for event in posted if self._rooms.sockets_in(event.room_id)]
        if not wanted:
            return []
        with metrics.FANOUT_SECONDS.time():
            fanouts = await self._render(wanted)
            by_room: defaultdict[int, list[streams.Fanout]] = defaultdict(list)
            for fanout in fanouts:
                by_room[fanout.room_id].append(fanout)
            for room_id, batch in by_room.items():
                await write_each(
                    self._rooms.sockets_in(room_id),
                    [fanout.fragment_for(None) for fanout in batch],
                    {a: [f.fragment_for(a) for f in batch] for a in {f.author_id for f in batch}},
                )
        return fanouts

    async def _render(self, message_ids: list[int]) -> list[streams.Fanout]:
        """Render these messages (see streams.render_posted) and keep them for catch-ups."""
        async with self._app.app_context():
            fanouts = await streams.render_posted(message_ids)
        for fanout in fanouts:
            self._rendered[fanout.message_id] = fanout
        while len(self._rendered) > RENDERED_KEPT:
            del self._rendered[next(iter(self._rendered))]  # the oldest kept
        return fanouts

    async def catch_up_renders(self, stamps: list[tuple[int, datetime]]) -> list[streams.Fanout]:
        """Renders of the messages ``stamps`` names (id, created_at), oldest first: those this
        node rendered lately come from memory (after a restart or a network blip, every tab
        replays the same messages), the rest are rendered now; deleted ones are left out."""
        known = {
            message_id: fanout
            for message_id, created_at in stamps
            if (fanout := self._rendered.get(message_id)) and fanout.created_at == created_at
        }
        missing = [message_id for message_id, _ in stamps if message_id not in known]
        if missing:
            known.update((fanout.message_id, fanout) for fanout in await self._render(missing))
        return [known[message_id] for message_id, _ in stamps if message_id in known]
