"""Link previews: after a message is posted or edited, its first link's page is fetched in
the background (through the guarded client, chat_app/outbound.py), and the card it makes is
attached to the message as a change of the room's log ("previewed"), so every tab gets it
live and every catch-up replays it.

Pages are cached per URL (``link_previews``): a link posted again within
LINK_PREVIEW_CACHE_SECONDS is not fetched again, and neither is one that gave nothing.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from quart import Quart, current_app
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from chat_app.actions.changes import announce, record
from chat_app.background import Tasks
from chat_app.db import database_unavailable, finish_even_if_cancelled
from chat_app.logs import RateLimitedLog, log_event, log_unavailable
from chat_app.models import ChangeKind, Message
from chat_app.models.previews import URL_MAX, LinkPreview, MessagePreview, attached_url
from chat_app.outbound import Outbound, Refused
from chat_app.richtext import links
from chat_app.unfurl import Card, decode, parse_card

log = logging.getLogger(__name__)
_failures = RateLimitedLog(30.0)
PREVIEWER = "previewer"


class Previewer:
    """Fetches previews for one application: at most LINK_PREVIEW_CONCURRENCY pages at once,
    at most LINK_PREVIEW_MAX_PENDING messages waiting (more are left without a preview)."""

    def __init__(self, app: Quart) -> None:
        cfg = app.config
        self.app = app
        self.outbound = Outbound(
            timeout=float(cfg["OUTBOUND_TIMEOUT_SECONDS"]),
            max_bytes=int(cfg["OUTBOUND_MAX_BYTES"]),
            allow=str(cfg["OUTBOUND_ALLOW"]),
        )
        self.tasks = Tasks(int(cfg["LINK_PREVIEW_MAX_PENDING"]))
        self._slots = asyncio.Semaphore(int(cfg["LINK_PREVIEW_CONCURRENCY"]))

    async def card(self, url: str) -> Card:
        """What the page at ``url`` says about itself; an empty card if it cannot be had."""
        async with self._slots:
            try:
                page = await self.outbound.get(url)
            except Refused as why:
                _failures.log(log, "preview.refused", (str(why),), {"reason": str(why)})
                return Card()
        return parse_card(decode(page.body, page.charset))

    async def close(self) -> None:
        """Cancel what is being fetched and close the connections."""
        await self.tasks.cancel()
        await self.outbound.close()


def previewer_of(app: Quart) -> Previewer:
    """The application's previewer (made on first use: tests change the settings first)."""
    found = app.extensions.get(PREVIEWER)
    if found is None:
        found = app.extensions[PREVIEWER] = Previewer(app)
    assert isinstance(found, Previewer)
    return found


def init_previews(app: Quart) -> None:
    """Stop fetching previews when ``app`` stops serving."""

    @app.after_serving
    async def stop_previewing() -> None:
        previewer = app.extensions.pop(PREVIEWER, None)
        if previewer is not None:
            await previewer.close()


def preview_later(message: Message, edited: bool = False) -> asyncio.Task[None] | None:
    """Bring ``message``'s preview up to date with its first link, in the background (posting
    never waits for someone else's server). The task, or None when previews are off, a new
    message has no link (an ``edited`` one may have to lose its card), or too many are
    waiting."""
    if not current_app.config["LINK_PREVIEWS"]:
        return None
    if not edited and not links(message.content_html):
        return None
    app: Quart = current_app._get_current_object()
    return previewer_of(app).tasks.spawn(_in_background(app, message.id))


async def _in_background(app: Quart, message_id: int) -> None:
    try:
        async with app.app_context():
            await refresh_preview(previewer_of(app), message_id)
    except Exception as error:  # a background task has no caller to tell
        if database_unavailable(error):
            log_unavailable(log, "preview", error)
        else:
            log_event(log, "preview.failed", logging.ERROR, error=error, message=message_id)


def first_link(rendered: str) -> str | None:
    """The link of ``rendered`` HTML that gets a preview: its first http(s) one, if short
    enough to be cached."""
    return next((url for url in links(rendered) if len(url) <= URL_MAX), None)


async def refresh_preview(previewer: Previewer, message_id: int) -> bool:
    """Make message ``message_id`` show the preview of its first link (or none, without one);
    True if that changed what it shows, which is then a change of the room's log."""
    rows = await Message.filter(id=message_id).values_list("room_id", "content_html")
    if not rows:
        return False
    room_id, rendered = rows[0]
    url = first_link(rendered)
    shown = await attached_url(message_id)
    if url == shown:
        return False
    preview = await cached_preview(previewer, url) if url else None
    if shown is None and (preview is None or not preview.shows):
        return False
    return await finish_even_if_cancelled(_attach(int(room_id), message_id, url, preview))


async def _attach(
    room_id: int, message_id: int, url: str | None, preview: LinkPreview | None
) -> bool:
    try:
        async with in_transaction():
            now = await Message.filter(id=message_id).values_list("content_html", flat=True)
            if not now or first_link(str(now[0])) != url:
                return False  # deleted or edited meanwhile: the edit's own refresh decides
            removed = await MessagePreview.filter(message_id=message_id).delete()
            if preview is not None and preview.shows:
                await MessagePreview.create(message_id=message_id, preview_id=preview.id)
            elif not removed:
                return False  # a refresh running beside this one took the card away already
            change = await record(room_id, message_id, ChangeKind.PREVIEWED)
    except IntegrityError:
        return False  # another refresh of the same message attached one at the same time
    await announce(room_id, change)
    return True


async def cached_preview(previewer: Previewer, url: str) -> LinkPreview:
    """The stored preview of ``url``, fetched again when older than
    LINK_PREVIEW_CACHE_SECONDS (or never fetched)."""
    ttl = timedelta(seconds=float(current_app.config["LINK_PREVIEW_CACHE_SECONDS"]))
    stored = await LinkPreview.get_or_none(url=url)
    if stored is not None and stored.fetched_at > datetime.now(UTC) - ttl:
        return stored
    card = await previewer.card(url)
    fetched_at = datetime.now(UTC)
    if stored is not None:
        await LinkPreview.filter(id=stored.id).update(
            title=card.title,
            description=card.description,
            site_name=card.site_name,
            fetched_at=fetched_at,
        )
        return await LinkPreview.get(id=stored.id)
    try:
        return await LinkPreview.create(
            url=url,
            title=card.title,
            description=card.description,
            site_name=card.site_name,
            fetched_at=fetched_at,
        )
    except IntegrityError:  # the same URL fetched for another message at the same time
        return await LinkPreview.get(url=url)
