"""The chat page and its no-JS history pages."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup
from quart import Blueprint, abort, current_app, redirect, render_template, request, url_for
from quart_auth import login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from chat_app.auth import room_or_404, rooms_or_404, viewer_user
from chat_app.models import Message, User
from chat_app.models.messages import latest, new_client_id, page, page_after, page_before
from chat_app.models.presence import room_presence
from chat_app.models.rooms import room_for_member
from chat_app.realtime.streams import dom_id, render_messages

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
    rooms and the room's people. Two queries."""
    room, rooms = await rooms_or_404(user, slug)
    return {
        "room": room,
        "viewer": user,
        "viewer_id": user.id,
        "rooms": rooms,
        "people": await room_presence(room.id),
    }


async def message_list(messages: list[Message], viewer_id: int) -> Markup:
    """``messages`` rendered by their partial, as one piece of HTML for a page to place.

    Rendered apart from the page because Jinja's async mode passes every piece of output up
    through each enclosing template and block, six levels deep on a room page: rendering the
    list on its own took a quarter off the history page's render time.
    """
    html = await render_template("messages/_list.html", messages=messages, viewer_id=viewer_id)
    return Markup(html)  # noqa: S704 - rendered by our autoescaping templates


async def render_room(
    shell: dict[str, Any], content: str = "", error: str | None = None, status: int = 200
) -> tuple[str, int]:
    """The chat page; the composer keeps ``content`` and shows ``error`` after a failed post."""
    messages = await latest(shell["room"].id, current_app.config["HISTORY_PAGE_SIZE"])
    html = await render_template(
        "rooms/show.html",
        **shell,
        messages=messages,
        message_list=await message_list(messages, shell["viewer_id"]),
        last_id=messages[-1].id if messages else 0,
        client_id=new_client_id(),
        content=content,
        error=error,
    )
    return html, status


@blueprint.get("/rooms/<slug>")
@login_required
async def show(slug: str) -> tuple[str, int]:
    """The latest messages, the composer and the live socket."""
    return await render_room(await shell(await viewer_user(), slug))


@blueprint.get("/rooms/<slug>/history")
@login_required
async def history(slug: str) -> str:
    """A full page of messages older than ``before``, newer than ``after``, or ``around`` one
    (a permalink); links to the pages on either side. Works without JS."""
    frame = await shell(await viewer_user(), slug)
    cursors = {name: cursor_arg(name) for name in ("before", "after", "around")}
    given = {name: value for name, value in cursors.items() if value is not None}
    if len(given) > 1:
        abort(400, "Give one of 'before', 'after' or 'around', not several.")
    found = await page(frame["room"].id, current_app.config["HISTORY_PAGE_SIZE"], **given)
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
        "rooms/_older.html", room_slug=room.slug, messages=messages, viewer_id=user.id
    )


@blueprint.get("/rooms/<slug>/poll")
@login_required
async def poll(slug: str) -> str:
    """For tabs whose WebSocket cannot connect: messages newer than ``after``, as a fragment."""
    user = await viewer_user()
    room = await room_or_404(user, slug)
    after = cursor_arg("after", minimum=0) or 0
    messages = await page_after(room.id, after, current_app.config["HISTORY_PAGE_SIZE"])
    return await render_messages(messages, user.id)


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
