"""Where uploaded files meet export, account deletion and retention: the one seam they share.

Messages carry no files yet. When uploads arrive, these two functions are what they fill in:
``files_of`` lists the files of some messages (export adds them to the ZIP under ``files/``;
deletion and retention list them before the messages' rows go), and ``discard`` deletes their
bytes from storage once the rows' deletion has committed (bytes are not transactional: a crash
between the two leaves unreferenced bytes to sweep, never a message pointing at nothing).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One uploaded file of a message: its name in an export's ``files/`` folder, and its
    bytes, chunk by chunk (never whole in memory)."""

    message_id: int
    name: str
    chunks: Callable[[], AsyncIterator[bytes]]


async def files_of(message_ids: Sequence[int]) -> list[StoredFile]:
    """The uploaded files of these messages (none until messages can carry files)."""
    del message_ids  # nothing is stored yet; the uploads module answers here
    return []


async def discard(files: Sequence[StoredFile]) -> None:
    """Delete these files' bytes from storage (after their messages' rows are gone)."""
    del files  # nothing is stored yet; the uploads module deletes here
