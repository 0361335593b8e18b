"""The chat page and its no-JS history pages."""

from __future__ import annotations

import asyncio
from typing import Any

from markupsafe import Markup
from quart import Blueprint, abort, current_app, redirect, request, url_for
from quart_auth import login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from chat_app.actions.reads import mark_read
from chat_app.auth import room_or_404, rooms_or_404, viewer_user
from chat_app.blueprints.frame import frame
from chat_app.models import Message, Room, User
from chat_app.models.changes import newest_change
from chat_app.models.messages import Quote, excerpt, latest, new_client_id, page, page_before
from chat_app.models.presence import room_people
from chat_app.models.rooms import room_for_member
from chat_app.models.unread import NOTHING_UNREAD, first_unread, mark_of, unread_of
from chat_app.realtime.hub import Hub
from chat_app.realtime.streams import dom_id
from chat_app.security import csrf_token
from chat_app.templating import render_template

blueprint = Blueprint("rooms", __name__)


def cursor_arg(name: str, minimum: int = 1) -> int | None:
    """A keyset cursor from the query string; 400 for anything but an integer ≥ ``minimum``."""
    raw = request.args.get(name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18 or int(raw) < minimum:
        abort(400, f"'{name}' must be a message id (an integer of at least {minimum}).")
    return int(raw)


async def shell(user: User, slug: str) -> dict[str, Any]:
    """What every room page's shell shows: the room (404 for outsiders), the viewer, their
    rooms and conversations with their unread marks, and the room's people. Three queries
    (four with conversations); all but the first at once, as they need only the room."""
    return await shell_of(user, *await rooms_or_404(user, slug))


async def shell_of(user: User, room: Room, rooms: list[Room]) -> dict[str, Any]:
    """``shell`` once the room is found: a page can read its messages meanwhile."""
    framed, unread, people = await asyncio.gather(
        frame(user, rooms, room),
        unread_of(user.id),
        room_people(room.id, current_app.config["PRESENCE_FULL_LIST_MAX"]),
    )
    return {
        **framed,
        "unread": unread.get(room.id, NOTHING_UNREAD),
        "marks": {r.id: mark_of(r, unread.get(r.id)) for r in rooms},
        "people": people,
    }


async def message_list(
    messages: list[Message], viewer_id: int, first_unread: int | None = None
) -> Markup:
    """``messages`` rendered by their partial, as one piece of HTML for a page to place.

    Rendered apart from the page because every piece of output passes up through each
    enclosing template and block, six levels deep on a room page: rendering the list on its
    own took a quarter off the history page's render time (in Jinja's async mode, which
    rendered pages then; ``chat_app.templating``). The "New messages" divider goes before
    message ``first_unread``.
    """
    html = await render_template(
        "messages/_list.html",
        messages=messages,
        viewer_id=viewer_id,
        csrf=csrf_token(),
        first_unread=first_unread,
    )
    return Markup(html)  # noqa: S704 - rendered by our autoescaping templates


async def replying_to(room_id: int, raw: object) -> Quote | None:
    """What the composer replies to: message ``raw`` of this room (a ``reply_to`` from a URL or
    a form), or None when it names none."""
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return None
    original = await Message.get_or_none(id=int(raw), room_id=room_id).select_related("author")
    if original is None:
        return None
    return Quote(original.id, original.author.username, excerpt(original.plain_text()))


async def render_room(
    shell: dict[str, Any],
    content: str = "",
    error: str | None = None,
    status: int = 200,
    reply_to: object = None,
) -> tuple[str, int]:
    """The chat page; the composer keeps ``content`` (and what it replies to) and shows
    ``error`` after a failed post. Viewing it reads the room up to the change it shows; what
    was unread before starts after a "New messages" divider."""
    room_id, viewer_id = shell["room"].id, shell["viewer_id"]
    # The cursor is read before the messages: a change committed in between is replayed to
    # the page (applying it twice is harmless), never skipped.
    cursor = await newest_change(room_id)
    messages = await latest(room_id, current_app.config["HISTORY_PAGE_SIZE"])
    unread = shell["unread"]
    first = await first_unread(room_id, viewer_id, unread.last_read) if unread.messages else None
    await mark_read(viewer_id, room_id, cursor)
    html = await render_template(
        "rooms/show.html",
        **shell,
        messages=messages,
        message_list=await message_list(messages, viewer_id, first),
        first_unread=first,
        # Older than the page: the divider is not on it, a link leads there.
        first_unread_above=first is not None and bool(messages) and first < messages[0].id,
        cursor=cursor,
        # Workspace and room admins see Delete on everyone's messages (CSS keyed on #chat).
        moderator=shell["viewer"].is_admin or shell["room"].viewer_role == "admin",
        client_id=new_client_id(),
        content=content,
        error=error,
        reply_to=await replying_to(room_id, reply_to),
        notify=shell["room"].viewer_notify,  # for static/js/notify.js
    )
    return html, status


@blueprint.get("/rooms/<slug>")
@login_required
async def show(slug: str) -> tuple[str, int]:
    """The latest messages, the composer and the live socket."""
    return await render_room(
        await shell(await viewer_user(), slug), reply_to=request.args.get("reply_to")
    )


@blueprint.get("/rooms/<slug>/history")
@login_required
async def history(slug: str) -> str:
    """A full page of messages older than ``before``, newer than ``after``, or ``around`` one
    (a permalink); links to the pages on either side. Works without JS."""
    user = await viewer_user()
    room, rooms = await rooms_or_404(user, slug)
    cursors = {name: cursor_arg(name) for name in ("before", "after", "around")}
    given = {name: value for name, value in cursors.items() if value is not None}
    if len(given) > 1:
        abort(400, "Give one of 'before', 'after' or 'around', not several.")
    frame, found = await asyncio.gather(
        shell_of(user, room, rooms),
        page(room.id, current_app.config["HISTORY_PAGE_SIZE"], **given),
    )
    return await render_template(
        "rooms/history.html",
        **frame,
        messages=found.messages,
        message_list=await message_list(found.messages, frame["viewer_id"]),
        older=found.older,
        newer=found.newer,
    )


@blueprint.get("/rooms/<slug>/older")
@login_required
async def older(slug: str) -> str:
    """Infinite scroll: the page of messages before ``before`` and the next trigger above it."""
    user = await viewer_user()
    room = await room_or_404(user, slug)
    before = cursor_arg("before")
    if before is None:
        abort(400, "'before' is required.")
    messages = await page_before(room.id, before, current_app.config["HISTORY_PAGE_SIZE"])
    return await render_template(
        "rooms/_older.html",
        room_slug=room.slug,
        messages=messages,
        viewer_id=user.id,
        csrf=csrf_token(),
    )


@blueprint.get("/rooms/<slug>/poll")
@login_required
async def poll(slug: str) -> str:
    """For tabs whose WebSocket cannot connect: what changed after change ``after``, as the
    socket's catch-up would send it (one page of the log at a time)."""
    user = await viewer_user()
    room = await room_or_404(user, slug)
    after = cursor_arg("after", minimum=0) or 0
    hub: Hub = current_app.extensions["hub"]
    async for _, text in hub.catch_up(room.id, after, user.id):
        return text
    return ""


@blueprint.get("/messages/<int:message_id>")
@login_required
async def permalink(message_id: int) -> WerkzeugResponse:
    """A message in context: its room's history page around it."""
    user = await viewer_user()
    message = await Message.get_or_none(id=message_id).select_related("room")
    if message is None or await room_for_member(user.id, message.room.slug) is None:
        abort(404)
    target = url_for(
        "rooms.history",
        slug=message.room.slug,
        around=message.id,
        _anchor=dom_id("message", message.id),
    )
    return redirect(target, 303)
