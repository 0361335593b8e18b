"""A room's settings and members: its admins rename it, set its topic, make it open or
private, say whose @everyone notifies it, make members admins, remove members and archive
it; any member sees the members, adds people, leaves."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, abort, current_app, redirect, request, url_for
from quart_auth import login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from chat_app.actions.rooms import (
    LastAdmin,
    RoomError,
    add_member,
    archive_room_by,
    leave_room,
    remove_member,
    set_role,
    update_room,
)
from chat_app.auth import room_or_404, rooms_or_404, viewer_user
from chat_app.blueprints.directory import refuse_room
from chat_app.blueprints.frame import frame
from chat_app.models import Room, User
from chat_app.models.presence import room_people
from chat_app.models.rooms import NAME_MAX, TOPIC_MAX, members_of
from chat_app.templating import render_template

blueprint = Blueprint("room_settings", __name__)


async def _page(
    user: User,
    slug: str,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status: int | None = None,
) -> tuple[str, int]:
    room, rooms = await rooms_or_404(user, slug)
    if room.is_direct:
        abort(404)  # a conversation has no settings: its people are its name
    shown = form or {
        "name": room.name,
        "topic": room.topic,
        "kind": str(room.kind),
        "everyone_mentions": room.everyone_mentions,
    }
    html = await render_template(
        "room_settings/show.html",
        **await frame(user, rooms, room),
        people=await room_people(room.id, current_app.config["PRESENCE_FULL_LIST_MAX"]),
        members=await members_of(room.id),
        form=shown,
        error=error,
        name_max=NAME_MAX,
        topic_max=TOPIC_MAX,
    )
    return html, (status or 422) if error else 200


async def _refused(user: User, room: Room, error: LastAdmin) -> tuple[str, int]:
    """The settings page with why that was refused, and the controls to transfer admin."""
    return await _page(user, room.slug, error=str(error), status=409)


async def _room(slug: str) -> tuple[User, Room]:
    user = await viewer_user()
    return user, await room_or_404(user, slug)


def _back(room: Room) -> WerkzeugResponse:
    return redirect(url_for("room_settings.show", slug=room.slug), 303)


@blueprint.get("/rooms/<slug>/settings")
@login_required
async def show(slug: str) -> tuple[str, int]:
    """The settings form (for its admins) and the members."""
    return await _page(await viewer_user(), slug)


@blueprint.post("/rooms/<slug>/settings")
@login_required
async def update(slug: str) -> Any:
    """Save name, topic and open/private; on error the form again with the reason."""
    user, room = await _room(slug)
    form = await request.form
    fields = {key: form.get(key, "") for key in ("name", "topic", "kind")}
    everyone = form.get("everyone_mentions")  # absent: unchanged
    fields["everyone_mentions"] = everyone or room.everyone_mentions
    try:
        await update_room(user, room, fields["name"], fields["topic"], fields["kind"], everyone)
    except RoomError as error:
        if type(error) is not RoomError:
            refuse_room(error)
        return await _page(user, slug, fields, str(error))
    return _back(room)


@blueprint.post("/rooms/<slug>/members")
@login_required
async def add(slug: str) -> Any:
    """Add someone by username (any member of an open or private room)."""
    user, room = await _room(slug)
    username = (await request.form).get("username", "")
    try:
        await add_member(user, room, username)
    except RoomError as error:
        if type(error) is not RoomError:
            refuse_room(error)
        return await _page(user, slug, error=str(error))
    return _back(room)


@blueprint.post("/rooms/<slug>/members/remove")
@login_required
async def remove(slug: str) -> WerkzeugResponse:
    """Take a member out (its admins); their open tabs of this room close and say why."""
    user, room = await _room(slug)
    member_id = (await request.form).get("user_id")
    try:
        await remove_member(user, room, member_id)
    except RoomError as error:
        refuse_room(error)
    if str(member_id) == str(user.id):
        return redirect(url_for("directory.browse"), 303)
    return _back(room)


@blueprint.post("/rooms/<slug>/leave")
@login_required
async def leave(slug: str) -> Any:
    """Leave a room (its sockets in other tabs close) and go to the directory; its last admin
    gets this page again with the reason, beside the controls to make someone else admin."""
    user, room = await _room(slug)
    try:
        await leave_room(user, room)
    except LastAdmin as error:
        return await _refused(user, room, error)
    except RoomError as error:
        refuse_room(error)
    return redirect(url_for("directory.browse"), 303)


@blueprint.post("/rooms/<slug>/members/role")
@login_required
async def role(slug: str) -> Any:
    """Make a member an admin of the room, or a plain member again (its admins)."""
    user, room = await _room(slug)
    form = await request.form
    try:
        await set_role(user, room, form.get("user_id"), form.get("role"))
    except LastAdmin as error:
        return await _refused(user, room, error)
    except RoomError as error:
        refuse_room(error)
    return _back(room)


@blueprint.post("/rooms/<slug>/archive")
@login_required
async def archive(slug: str) -> WerkzeugResponse:
    """Archive the room (its admins): readable, no longer written to."""
    user, room = await _room(slug)
    try:
        await archive_room_by(user, room)
    except RoomError as error:
        refuse_room(error)
    return redirect(url_for("rooms.show", slug=room.slug), 303)
