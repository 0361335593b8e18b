"""Uploading files, attaching them to a message, and removing them again.

An upload is stored first (its bytes in the storage, a row without a message) and sent with
a message afterwards, by id: the socket's frames stay small and a file is uploaded once,
whatever happens to the message. Images are oriented, stripped of metadata and thumbnailed
while the upload request is still open (in a worker thread): the bytes must be clean before
anyone can fetch them, the uploader is waiting on a progress bar anyway, and so the message
that carries them is complete when it is posted and fans out once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from quart import current_app

from chat_app.actions.changes import MessageRejected
from chat_app.actions.limits import app_limiter
from chat_app.media import MediaRejected, Picture, clean_filename, picture, refuse_type, sniff_type
from chat_app.models import Attachment, Membership, Room, User
from chat_app.models.attachments import INLINE_IMAGES, known_keys, orphans
from chat_app.storage import new_key, storage_of

log = logging.getLogger(__name__)

IMAGE_WORKERS = 2  # images decoded at once per process: each can take ~100 MB and a core
SWEEP_BATCH = 500


class UploadRejected(ValueError):
    """Nothing was stored; ``str()`` says why, ``status`` is the HTTP answer (413, 422, 429)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def too_large_message() -> str:
    """What a refused oversized upload is told."""
    limit: int = current_app.config["UPLOAD_MAX_BYTES"]
    return f"Files are at most {limit / 1024 / 1024:g} MB."


async def store_upload(user: User, room: Room, filename: object, data: bytes) -> Attachment:
    """Keep an upload by ``user`` into ``room``, not yet on any message; UploadRejected
    says why not (too large, over the hourly budget, a refused type, a broken image)."""
    cfg = current_app.config
    if len(data) > cfg["UPLOAD_MAX_BYTES"]:
        raise UploadRejected(too_large_message(), 413)
    if not data:
        raise UploadRejected("This file is empty.")
    if room.archived_at is not None:
        raise UploadRejected("This room is archived: it can be read, not posted to.")
    if not await Membership.exists(user_id=user.id, room_id=room.id):
        raise UploadRejected("You are not a member of this room.")
    content_type = sniff_type(data)
    try:
        refuse_type(content_type)
        shown = await _picture(data) if content_type in INLINE_IMAGES else None
    except MediaRejected as error:
        raise UploadRejected(str(error)) from error
    _spend_budget(user, len(data))
    return await _keep(user, room, clean_filename(filename), content_type, data, shown)


def _spend_budget(user: User, size: int) -> None:
    per_hour: int = current_app.config["UPLOAD_BYTES_PER_HOUR"]
    if per_hour <= 0:
        return
    wait = app_limiter("upload_bytes", per_hour / 3600, per_hour).take(user.id, size)
    if wait:
        raise UploadRejected(
            f"You have uploaded a lot lately; try again in {wait / 60:.0f} min.", 429
        )


async def _picture(data: bytes) -> Picture:
    slots: asyncio.Semaphore = current_app.extensions.setdefault(
        "image_slots", asyncio.Semaphore(IMAGE_WORKERS)
    )
    async with slots:
        return await asyncio.to_thread(picture, data, current_app.config["UPLOAD_MAX_PIXELS"])


async def _keep(
    user: User,
    room: Room,
    name: str,
    content_type: str,
    data: bytes,
    shown: Picture | None,
) -> Attachment:
    """Bytes first, then the row: a failure leaves at worst objects without a row, which
    the orphan sweep removes."""
    storage = storage_of(current_app)
    key = new_key("files")
    body = shown.full if shown and shown.full is not None else data
    await storage.put(key, body, content_type)
    thumb_key = None
    if shown is not None:
        thumb_key = new_key("thumbs")
        await storage.put(thumb_key, shown.thumb, "image/webp")
    return await Attachment.create(
        room_id=room.id,
        uploader_id=user.id,
        key=key,
        name=name,
        content_type=content_type,
        size=len(body),
        width=shown.width if shown else None,
        height=shown.height if shown else None,
        thumb_key=thumb_key,
        thumb_width=shown.thumb_width if shown else None,
        thumb_height=shown.thumb_height if shown else None,
    )


def attachment_ids_from(raw: object) -> list[int]:
    """The attachment ids a post names (a form field or frame value: "3,4" or a list), or
    MessageRejected; none for None or ""."""
    if raw is None or raw == "":
        return []
    parts = raw.split(",") if isinstance(raw, str) else raw if isinstance(raw, list) else None
    if parts is None:
        raise MessageRejected("The attached files were not understood; attach them again.")
    ids: list[int] = []
    for part in parts:
        text = str(part).strip() if isinstance(part, int | str) else ""
        if not (text.isascii() and text.isdigit() and 0 < len(text) <= 18):
            raise MessageRejected("The attached files were not understood; attach them again.")
        if int(text) not in ids:
            ids.append(int(text))
    most: int = current_app.config["UPLOAD_MAX_FILES"]
    if len(ids) > most:
        raise MessageRejected(f"A message carries at most {most} files.")
    return ids


async def attach(message_id: int, author: User, room: Room, ids: list[int]) -> None:
    """Put these uploads on the message, inside the caller's transaction; MessageRejected
    (rolling it back) unless each is the author's, in this room, and on no message yet."""
    if not ids:
        return
    claimed = await Attachment.filter(
        id__in=ids, uploader_id=author.id, room_id=room.id, message_id__isnull=True
    ).update(message_id=message_id)
    if claimed != len(ids):
        raise MessageRejected("An attached file is gone or was sent already; attach it again.")


async def discard(keys: Iterable[str]) -> None:
    """Remove objects whose rows are gone (after the commit). A failure is logged, not
    raised: the change is done, and the orphan sweep removes them later."""
    keys = list(keys)
    if not keys:
        return
    try:
        await storage_of(current_app).delete(keys)
    except Exception:
        log.exception("could not remove %d stored files; the orphan sweep will", len(keys))


@dataclass(frozen=True, slots=True)
class Swept:
    """What an orphan sweep removed."""

    uploads: int
    objects: int


async def sweep_orphans(grace: timedelta | None = None) -> Swept:
    """Remove uploads never sent within ``grace`` (CHAT_UPLOAD_ORPHAN_HOURS) and stored
    objects that no row holds and that are older than ``grace`` (younger ones may be an
    upload whose row is still being written)."""
    if grace is None:
        grace = timedelta(hours=current_app.config["UPLOAD_ORPHAN_HOURS"])
    cutoff = datetime.now(UTC) - grace
    unsent = await orphans(cutoff)
    if unsent:
        await Attachment.filter(id__in=[row.id for row in unsent]).delete()
        await discard(key for row in unsent for key in row.stored_keys())
    storage = storage_of(current_app)
    removed = 0
    batch: list[str] = []
    async for stored in storage.stored():
        if stored.modified < cutoff:
            batch.append(stored.key)
        if len(batch) >= SWEEP_BATCH:
            removed += await _drop_unknown(batch)
            batch = []
    removed += await _drop_unknown(batch)
    return Swept(len(unsent), removed)


async def _drop_unknown(keys: list[str]) -> int:
    known = await known_keys(k for k in keys if not k.startswith("avatars/"))
    avatars = [k for k in keys if k.startswith("avatars/")]
    if avatars:
        rows = await User.filter(avatar_key__in=avatars).values_list("avatar_key", flat=True)
        known |= {str(k) for k in rows}
    unknown = [k for k in keys if k not in known]
    if unknown:
        await storage_of(current_app).delete(unknown)
    return len(unknown)
