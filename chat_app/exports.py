"""Writing message history as JSON Lines or CSV, batch by batch, to any text stream."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from typing import TextIO

from chat_app.actions.maintenance import Archive
from chat_app.models import Message
from chat_app.models.messages import in_batches

FORMATS = ("jsonl", "csv")
FIELDS = ("id", "room", "author", "created_at", "content")


def message_record(message: Message) -> dict[str, object]:
    """A message as exports show it (room and author loaded)."""
    return {
        "id": message.id,
        "room": message.room.slug,
        "author": message.author.username,
        "created_at": message.created_at.isoformat(),
        "content": message.content,
    }


def batch_writer(out: TextIO, fmt: str) -> Archive:
    """A function that appends a batch to ``out`` in ``fmt`` and flushes it (CSV: header now)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")
    if fmt == "csv":
        table = csv.DictWriter(out, fieldnames=FIELDS)
        table.writeheader()

    async def write(batch: list[Message]) -> None:
        records = [message_record(m) for m in batch]
        if fmt == "csv":
            table.writerows(records)
        else:
            out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        out.flush()  # on disk before an archive run deletes these rows

    return write


async def export_messages(
    out: TextIO,
    fmt: str,
    room_id: int | None = None,
    older_than: datetime | None = None,
    batch_size: int = 1000,
) -> int:
    """Write every matching message, oldest first, holding one batch at a time; the count."""
    write = batch_writer(out, fmt)
    written = 0
    async for batch in in_batches(room_id, older_than, batch_size):
        await write(batch)
        written += len(batch)
    return written
