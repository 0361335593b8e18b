"""Exports stream: one batch in memory, written and flushed before the next is read."""

from __future__ import annotations

import io
import json

from quart import Quart

from chat_app.actions.seed import seed_demo
from chat_app.exports import export_messages


class FlushCounter(io.StringIO):
    """A stream that records how many lines each flush pushed out."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[int] = []
        self._lines = 0

    def flush(self) -> None:
        lines = self.getvalue().count("\n")
        self.flushed.append(lines - self._lines)
        self._lines = lines


async def test_a_large_room_is_exported_in_bounded_batches(app: Quart) -> None:
    room, added = await seed_demo(2, 5_000, "general", "demo-password")
    assert added == 5_000
    out = FlushCounter()
    written = await export_messages(out, "jsonl", room.id, batch_size=400)
    assert written == 5_000
    assert out.flushed == [400] * 12 + [200]
    ids = [json.loads(line)["id"] for line in out.getvalue().splitlines()]
    assert ids == sorted(ids) and len(set(ids)) == 5_000
