"""Files attached to messages: one row per upload, its bytes in the storage."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model

from chat_app.models.rooms import Room
from chat_app.models.users import User

if TYPE_CHECKING:
    from chat_app.models.messages import Message

# Served inline with their own type; every other file is served as a download
# (application/octet-stream). SVG is not here: it is a document that can run script.
INLINE_IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
INLINE_AUDIO = frozenset(
    {"audio/mpeg", "audio/ogg", "audio/x-wav", "audio/wav", "audio/x-flac", "audio/mp4"}
)
INLINE_VIDEO = frozenset({"video/mp4", "video/webm", "video/ogg"})
INLINE_TYPES = INLINE_IMAGES | INLINE_AUDIO | INLINE_VIDEO


class Attachment(Model):
    """An uploaded file: by ``uploader`` into ``room``, on ``message`` once it is sent (NULL
    until then; rows still NULL after the grace period are swept as orphans)."""

    id = fields.BigIntField(primary_key=True)
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "chat.Room", related_name="attachments", on_delete=fields.CASCADE
    )
    uploader: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "chat.User", related_name="attachments", on_delete=fields.CASCADE
    )
    # Deleted with its message (the delete action removes the bytes; for messages purged in
    # bulk the orphan sweep does).
    message: fields.ForeignKeyNullableRelation[Message] = fields.ForeignKeyField(
        "chat.Message", related_name="attachments", null=True, on_delete=fields.CASCADE
    )
    key = fields.CharField(max_length=100, unique=True)
    name = fields.CharField(max_length=255)
    content_type = fields.CharField(max_length=100)  # sniffed from the bytes, never the client's
    size = fields.BigIntField()
    # Images: the (oriented) size of the full image and of its thumbnail.
    width = fields.IntField(null=True)
    height = fields.IntField(null=True)
    thumb_key = fields.CharField(max_length=100, null=True)
    thumb_width = fields.IntField(null=True)
    thumb_height = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "attachments"
        indexes = (("message_id",), ("message_id", "created_at"))

    room_id: int
    uploader_id: int
    message_id: int | None

    @property
    def kind(self) -> str:
        """How the partial shows it: image, audio, video or file (a card)."""
        if self.content_type in INLINE_IMAGES and self.thumb_key:
            return "image"
        if self.content_type in INLINE_AUDIO:
            return "audio"
        if self.content_type in INLINE_VIDEO:
            return "video"
        return "file"

    @property
    def inline(self) -> bool:
        """Whether it is served for the browser to show rather than to download."""
        return self.content_type in INLINE_TYPES

    def stored_keys(self) -> list[str]:
        """Its objects in the storage."""
        return [self.key, *([self.thumb_key] if self.thumb_key else [])]


async def attachments_of(message_ids: Iterable[int]) -> dict[int, list[Attachment]]:
    """Each message's attachments in upload order: one query (none for no ids)."""
    ids = list(message_ids)
    grouped: dict[int, list[Attachment]] = defaultdict(list)
    if ids:
        for row in await Attachment.filter(message_id__in=ids).order_by("id"):
            assert row.message_id is not None
            grouped[row.message_id].append(row)
    return grouped


async def attachment_for_member(user_id: int, attachment_id: int) -> Attachment | None:
    """The attachment if ``user_id`` may see it: a member of its room, once it is on a
    message; before that, only its uploader. Anyone else: None (404)."""
    return (
        await Attachment.filter(id=attachment_id, room__memberships__user_id=user_id)
        .filter(Q(message_id__isnull=False) | Q(uploader_id=user_id))
        .first()
    )


async def orphans(older_than: datetime) -> list[Attachment]:
    """Uploads never attached to a message, uploaded before ``older_than``."""
    return await Attachment.filter(message_id__isnull=True, created_at__lt=older_than)


async def known_keys(keys: Iterable[str]) -> set[str]:
    """Those of ``keys`` that some attachment row (file or thumbnail) holds."""
    wanted = list(keys)
    if not wanted:
        return set()
    rows = await Attachment.filter(Q(key__in=wanted) | Q(thumb_key__in=wanted)).values_list(
        "key", "thumb_key"
    )
    return {k for pair in rows for k in pair if k} & set(wanted)
