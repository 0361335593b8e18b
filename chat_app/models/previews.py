"""Link previews: what a page says about itself (title, description, site), cached per URL,
and which message shows which."""

from __future__ import annotations

from collections.abc import Iterable

from tortoise import fields
from tortoise.models import Model

URL_MAX = 2048  # longer links get no preview
TITLE_MAX = 200
DESCRIPTION_MAX = 400
SITE_MAX = 100


class LinkPreview(Model):
    """What fetching ``url`` found, kept as the cache for every message linking to it. A
    fetch that found nothing to show (refused, failed, no title) is kept too, with ``title``
    empty, so the page is not asked again until the entry is old."""

    id = fields.BigIntField(primary_key=True)
    url = fields.CharField(max_length=URL_MAX, unique=True)
    title = fields.CharField(max_length=TITLE_MAX, default="")
    description = fields.CharField(max_length=DESCRIPTION_MAX, default="")
    site_name = fields.CharField(max_length=SITE_MAX, default="")
    fetched_at = fields.DatetimeField()

    class Meta:
        table = "link_previews"

    @property
    def shows(self) -> bool:
        """Whether there is a card to show (a page without a title gets none)."""
        return bool(self.title)


class MessagePreview(Model):
    """Message ``message`` shows the preview of its first link."""

    message: fields.OneToOneRelation[Model] = fields.OneToOneField(
        "chat.Message", related_name="attached_preview", on_delete=fields.CASCADE
    )
    preview: fields.ForeignKeyRelation[LinkPreview] = fields.ForeignKeyField(
        "chat.LinkPreview", related_name="messages", on_delete=fields.CASCADE
    )

    class Meta:
        table = "message_previews"

    message_id: int
    preview_id: int


async def previews_of(message_ids: Iterable[int]) -> dict[int, LinkPreview]:
    """The cards these messages show, by message id (one query; none for no ids)."""
    ids = list(message_ids)
    if not ids:
        return {}
    rows = await MessagePreview.filter(message_id__in=ids).select_related("preview")
    return {row.message_id: row.preview for row in rows if row.preview.shows}


async def attached_url(message_id: int) -> str | None:
    """The URL whose preview message ``message_id`` shows now, if any."""
    rows = await MessagePreview.filter(message_id=message_id).values_list("preview__url", flat=True)
    return str(rows[0]) if rows else None
