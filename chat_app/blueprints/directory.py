"""The room directory (open rooms), creating a room and joining one."""

from __future__ import annotations

from typing import Any, NoReturn

from quart import Blueprint, abort, redirect, request, url_for
from quart_auth import login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from chat_app.actions.rooms import (
    RoomError,
    RoomNotAllowed,
    RoomNotFound,
    create_room_by,
    join_open_room,
    may_create_rooms,
)
from chat_app.auth import viewer_user
from chat_app.blueprints.frame import frame
from chat_app.models import User
from chat_app.models.rooms import NAME_MAX, TOPIC_MAX, open_rooms, rooms_of
from chat_app.templating import render_template

blueprint = Blueprint("directory", __name__)


def refuse_room(error: RoomError) -> NoReturn:
    """Answer a refused room change: 404 for a room one cannot see, 403 for one that is not
    theirs to change, 422 for bad input."""
    if isinstance(error, RoomNotFound):
        abort(404, str(error))
    if isinstance(error, RoomNotAllowed):
        abort(403, str(error))
    abort(422, str(error))


async def page_frame(user: User, title: str) -> dict[str, Any]:
    """The frame of a page that shows no room (directory, forms)."""
    return {**await frame(user, await rooms_of(user.id)), "page_title": title}


@blueprint.get("/browse")
@login_required
async def browse() -> str:
    """The open rooms with their topic and member count; join or open each in one click."""
    user = await viewer_user()
    return await render_template(
        "directory/browse.html",
        **await page_frame(user, "Browse rooms"),
        entries=await open_rooms(user.id),
    )


async def _new_form(user: User, form: dict[str, str], error: str | None, status: int) -> Any:
    html = await render_template(
        "directory/new.html",
        **await page_frame(user, "Create a room"),
        form=form,
        error=error,
        name_max=NAME_MAX,
        topic_max=TOPIC_MAX,
    )
    return html, status


@blueprint.get("/rooms/new")
@login_required
async def new() -> Any:
    """The form for a new room: name, topic, open or private."""
    user = await viewer_user()
    if not may_create_rooms(user):
        abort(403, "Only workspace admins can create rooms here.")
    return await _new_form(user, {"kind": "open"}, None, 200)


@blueprint.post("/rooms/new")
@login_required
async def create() -> Any:
    """Create the room and go to it (303); on error the form again with the reason (422)."""
    user = await viewer_user()
    form = await request.form
    fields = {key: form.get(key, "") for key in ("name", "topic", "kind")}
    try:
        room = await create_room_by(user, fields["name"], fields["topic"], fields["kind"])
    except RoomNotAllowed as error:
        refuse_room(error)
    except RoomError as error:
        return await _new_form(user, fields, str(error), 422)
    return redirect(url_for("rooms.show", slug=room.slug), 303)


@blueprint.post("/rooms/<slug>/join")
@login_required
async def join(slug: str) -> WerkzeugResponse:
    """Join an open room and go to it; any other slug is 404 (private rooms are joined by
    being added)."""
    try:
        room = await join_open_room(await viewer_user(), slug)
    except RoomError as error:
        refuse_room(error)
    return redirect(url_for("rooms.show", slug=room.slug), 303)
