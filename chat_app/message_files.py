"""Where uploaded files meet export, account deletion and retention: the one seam they share.

``files_of`` lists the files of some messages (export adds them to the ZIP under ``files/``;
deletion lists them before the messages' rows go), and ``discard`` deletes their bytes from
storage once the rows' deletion has committed (bytes are not transactional: a crash between
the two leaves unreferenced bytes for ``sweep-uploads``, never a message pointing at nothing).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from quart import current_app

from chat_app.actions.attachments import discard as discard_keys
from chat_app.models.attachments import Attachment
from chat_app.storage import Storage, storage_of


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One uploaded file of a message: its name in an export's ``files/`` folder, its objects
    in storage (the file and its thumbnail), and its bytes."""

    message_id: int
    name: str
    keys: tuple[str, ...]
    chunks: Callable[[], AsyncIterator[bytes]]


def _reader(storage: Storage, key: str) -> Callable[[], AsyncIterator[bytes]]:
    async def chunks() -> AsyncIterator[bytes]:
        yield await storage.get(key)  # at most CHAT_UPLOAD_MAX_BYTES, one file at a time

    return chunks


async def files_of(message_ids: Sequence[int]) -> list[StoredFile]:
    """The uploaded files of these messages, in upload order (one query)."""
    if not message_ids:
        return []
    storage = storage_of(current_app)
    rows = await Attachment.filter(message_id__in=list(message_ids)).order_by("id")
    return [
        StoredFile(
            message_id=row.message_id or 0,
            # Two files of a message may share a name; a name is never a path in the ZIP.
            name=f"{row.id}-{row.name}".replace("/", "_").replace("\\", "_"),
            keys=tuple(row.stored_keys()),
            chunks=_reader(storage, row.key),
        )
        for row in rows
    ]


async def discard(files: Sequence[StoredFile]) -> None:
    """Delete these files' bytes from storage (after their messages' rows are gone)."""
    await discard_keys(key for stored in files for key in stored.keys)
