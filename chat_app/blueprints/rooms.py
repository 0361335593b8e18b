"""The chat page and its no-JS history pages."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, abort, current_app, render_template, request
from quart_auth import login_required

from chat_app.actions.messages import new_client_id
from chat_app.auth import room_or_404, viewer_user
from chat_app.models import Room, User
from chat_app.models.messages import latest, page_after, page_before
from chat_app.models.presence import room_presence
from chat_app.models.rooms import rooms_of

blueprint = Blueprint("rooms", __name__)


def cursor_arg(name: str) -> int | None:
    """A keyset cursor from the query string; 400 for anything but a positive integer."""
    raw = request.args.get(name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18 or int(raw) < 1:
        abort(400, f"'{name}' must be a positive message id.")
    return int(raw)


async def shell(room: Room, user: User) -> dict[str, Any]:
    """What every room page's shell shows: the viewer, their rooms, the room's people."""
    return {
        "room": room,
        "viewer": user,
        "viewer_id": user.id,
        "rooms": await rooms_of(user.id),
        "people": await room_presence(room.id),
    }


async def render_room(
    room: Room, user: User, content: str = "", error: str | None = None, status: int = 200
) -> tuple[str, int]:
    """The chat page; the composer keeps ``content`` and shows ``error`` after a failed post."""
    messages = await latest(room.id, current_app.config["HISTORY_PAGE_SIZE"])
    page = await render_template(
        "rooms/show.html",
        **await shell(room, user),
        messages=messages,
        last_id=messages[-1].id if messages else 0,
        client_id=new_client_id(),
        content=content,
        error=error,
    )
    return page, status


@blueprint.get("/rooms/<slug>")
@login_required
async def show(slug: str) -> tuple[str, int]:
    """The latest messages, the composer and the live socket."""
    user = await viewer_user()
    return await render_room(await room_or_404(user, slug), user)


@blueprint.get("/rooms/<slug>/history")
@login_required
async def history(slug: str) -> str:
    """A full page of older (``before``) or newer (``after``) messages; works without JS."""
    user = await viewer_user()
    room = await room_or_404(user, slug)
    before, after = cursor_arg("before"), cursor_arg("after")
    if before is not None and after is not None:
        abort(400, "Give either 'before' or 'after', not both.")
    size = current_app.config["HISTORY_PAGE_SIZE"]
    if after is not None:
        messages = await page_after(room.id, after, size)
    else:
        messages = await page_before(room.id, before, size)
    first, last = (messages[0].id, messages[-1].id) if messages else (None, None)
    return await render_template(
        "rooms/history.html",
        **await shell(room, user),
        messages=messages,
        older=first if first and await page_before(room.id, first, 1) else None,
        newer=last if last and await page_after(room.id, last, 1) else None,
    )
